// Command chatty is a connector that writes to its standard output, which
// is the plugin protocol's channel: with CHATTY=before it prints a line
// before the handshake; with CHATTY=during it prints, through os.Stdout and
// straight to file descriptor 1, while it reads. Its records are valid.
// The host's tests use it to show what a connector's stray output can and
// cannot do.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// Sentinel is what chatty prints; the tests look for it in the hub's log.
const Sentinel = "CHATTY-STRAY-OUTPUT"

const schema = "https://snodo-hub.github.io/schemas/volunteer/1.0.0"

type connector struct{}

func (connector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name: "chatty", Version: "1.0.0", Kind: sdk.KindThirdSector,
		Description:    "Writes to its standard output, for the host's tests.",
		Produces:       []string{schema},
		SettingsSchema: []byte(`{"type": "object"}`),
	}
}

func (connector) Check(context.Context, sdk.Settings) error { return nil }

func (connector) Read(_ context.Context, _ sdk.ReadRequest, emit func(sdk.Batch) error) error {
	fd1 := os.NewFile(1, "stdout")
	var b sdk.Batch
	for i := range 3 {
		fmt.Println(Sentinel, "through os.Stdout", i)
		fmt.Fprintln(fd1, Sentinel, "straight to fd 1", i)
		b.Records = append(b.Records, fmt.Appendf(nil,
			`{"schema":%q,"source":"odv","territory":"AB","record_id":"VOL-%d","recorded_at":%q,"pseudonym":"V%d","organisation":{"record_id":"ORG-ODV-1"}}`,
			schema, i, time.Date(2025, 1, 1, 0, i, 0, 0, time.UTC).Format(time.RFC3339), i))
	}
	b.Cursor = []byte("3")
	return emit(b)
}

func (connector) Write(context.Context, sdk.WriteRequest) (sdk.WriteResponse, error) {
	return sdk.WriteResponse{}, sdk.Fatal(fmt.Errorf("chatty writes nothing"))
}

func main() {
	if os.Getenv("CHATTY") == "before" {
		fmt.Println(Sentinel, "before the handshake")
	}
	sdk.Serve(connector{})
}
