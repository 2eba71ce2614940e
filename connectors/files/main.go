// Command files is Snodo's no-code file connector: it reads CSV, JSON Lines
// and XLSX exports from a folder and maps their rows to the shared schemas
// through a declarative mapping file. See README.md.
package main

import (
	_ "time/tzdata" // time zones without the host's zoneinfo: the hub starts connectors with no environment

	"github.com/snodo-hub/snodo/plugins/sdk"
)

func main() { sdk.Serve(&Connector{}) }
