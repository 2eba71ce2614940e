// Command comune is Snodo's connector for the municipal social-services
// case system of the Comune (REST/JSON API with Italian field names): it
// reads people, households, consents, referrals and their status changes,
// pathways, assessments and housing placements, and delivers referrals and
// status changes to the system. See README.md.
package main

import "github.com/snodo-hub/snodo/plugins/sdk"

func main() { sdk.Serve(&Connector{}) }
