// Command sds is Snodo's connector for the health society's system (PUA,
// UVM, social-health services): it reads the nightly CSV export folder and
// delivers referrals and status changes to the system's inbox folder. See
// README.md.
package main

import (
	_ "time/tzdata" // time zones without the host's zoneinfo: the hub starts connectors with no environment

	"github.com/snodo-hub/snodo/plugins/sdk"
)

func main() { sdk.Serve(&Connector{}) }
