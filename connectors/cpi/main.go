// Command cpi is Snodo's connector for the employment centre's system
// (Centro per l'Impiego, the simulated examples/sources/cpi): it reads the
// system's XML feed of workers and labour-policy measures and the status
// changes of the referrals it received, and delivers referrals and the
// requester's status changes to it. See README.md.
package main

import (
	_ "time/tzdata" // time zones without the host's zoneinfo: the hub starts connectors with no environment

	"github.com/snodo-hub/snodo/plugins/sdk"
)

func main() { sdk.Serve(&Connector{}) }
