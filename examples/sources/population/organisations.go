package population

// Organisation is an organisation of the territory. The systems and the
// hub's configuration use ID as its record id (it matches the recordId
// pattern of schemas/common.schema.json).
type Organisation struct {
	// ID is stable, e.g. "comune-sesto-fiorentino".
	ID string
	// Name is the official name.
	Name string
	// Type is a code of schemas/codes/organisation-type.json.
	Type string
	// System is the source system that serves the organisation, or "" for
	// third-sector partners, which have none.
	System System
	// Comune is the ISTAT code of the registered seat, from the embedded
	// reference data.
	Comune string
}

// Organisations returns the organisations of the territory, in a fixed
// order: the three public bodies behind the systems, then the
// third-sector partners of the co-design agreement.
func Organisations() []Organisation {
	rd := mustRefData()
	seat := func(name string) string {
		for _, m := range rd.territory {
			if m.Name == name {
				return m.ISTAT
			}
		}
		return rd.firenze.ISTAT
	}
	return []Organisation{
		{ID: "comune-sesto-fiorentino", Name: "Comune di Sesto Fiorentino - Servizi sociali", Type: "municipality", System: Comune, Comune: seat("Sesto Fiorentino")},
		{ID: "sds-fi-nordovest", Name: "Società della Salute Firenze Nord-Ovest - Punto Unico di Accesso", Type: "health-society", System: SDS, Comune: seat("Sesto Fiorentino")},
		{ID: "cpi-sesto-fiorentino", Name: "Centro per l'Impiego di Sesto Fiorentino", Type: "employment-centre", System: CPI, Comune: seat("Sesto Fiorentino")},
		{ID: "caritas-firenze", Name: "Caritas diocesana di Firenze", Type: "third-sector", Comune: rd.firenze.ISTAT},
		{ID: "arci-firenze", Name: "Arci Firenze", Type: "third-sector", Comune: rd.firenze.ISTAT},
	}
}
