// Package volunteers is an example: a third-sector partner's registry of
// active citizens (albo dei cittadini attivi), read into Snodo's volunteer
// schema by the files connector with the mapping in mapping.yaml. See
// README.md. The package holds no code: its test regenerates the sample
// export in albo/ from the simulated municipal case system (seed 42, 1,000
// households), so that every assignment names a real pathway of it.
package volunteers
