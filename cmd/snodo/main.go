// Command snodo is the Snodo hub: one binary for territory hubs, region
// hubs and their tools. Run "snodo --help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/logging"
	"github.com/snodo-hub/snodo/plugins/host"
)

// Exit codes. They are part of the command-line contract.
const (
	exitOK       = 0
	exitFindings = 1 // invalid documents or codes, a breaking schema change
	exitUsage    = 2 // bad usage, unreadable input, I/O errors
)

// exitError carries an exit code; a nil err exits quietly with the code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	host.Cleanup() // no connector process outlives snodo
	os.Exit(code)
}

// tuneGC trades memory for throughput unless the operator chose: ingest
// allocates briefly for every record (decoding and validating a 1 KB
// referral allocates ~30 KB), and with the default GOGC=100 garbage
// collection took close to half the time (BENCHMARKS.md). GOGC=400 with a
// memory limit keeps a territory hub well inside 2 GB.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "snodo:", ee.err)
		}
		return ee.code
	}
	// Errors from cobra itself: unknown commands and flags. They quote
	// what was typed, which may be a codice fiscale given without its flag
	// ("snodo erase RSSMRA…"): it is masked like in the logs.
	msg, _ := logging.Redact(err.Error())
	fmt.Fprintln(stderr, "snodo:", msg)
	fmt.Fprintln(stderr, `Run "snodo --help" for usage.`)
	return exitUsage
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "snodo",
		Short: "Snodo connects a territory's social-services systems and federates anonymised statistics",
		Long: `Snodo is the integration hub of a social-services territory: it loads connector
plugins for the municipal, health-society and employment-centre systems,
normalises what they hold into shared, versioned schemas, routes referrals
between services, and federates anonymised statistics to a regional hub.

Exit codes: 0 success, 1 findings (invalid documents or codes, a breaking
schema change), 2 usage or I/O errors.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newInitCmd(),
		newValidateCmd(),
		newSchemasCmd(),
		newIDCmd(),
		newDemoCmd(),
		newConnectorsCmd(),
		newRunCmd(),
		newIngestCmd(),
		newQuarantineCmd(),
		newStatusCmd(),
		newDoctorCmd(),
		newBackupCmd(),
		newRestoreCmd(),
		newTokensCmd(),
		newAuditCmd(),
		newRegionCmd(),
		newSigningKeyCmd(),
		newStatsCmd(),
		newFederateCmd(),
		newEraseCmd(),
		newExportCmd(),
		newRetentionCmd(),
	)
	return root
}
