// Package doctor checks that a territory hub's set-up can run: its
// configuration, its keys, its database, its connectors, the disk and the
// clock. Each check gives a Result — pass, fail with what to do, or skip
// with why — that "snodo doctor" prints as a checklist and that the API or
// a status page can show as they are.
//
// The checks only read: the database is opened read-only (never created
// nor migrated), so the doctor may run beside a running hub. Connectors are
// started and asked to Check, as "snodo connectors check" does.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/plugins/host"
)

// Status is the outcome of one check.
type Status string

// The outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip" // could not run, because an earlier check failed or it does not apply
)

// Result is the outcome of one check.
type Result struct {
	// Check names what was checked: "config", "key pseudonymisation",
	// "database", "connector files", "disk", …
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Message says what was found; for a failure, what is wrong and what
	// to do; for a skip, why.
	Message string `json:"message"`
}

func pass(check, format string, args ...any) Result {
	return Result{Check: check, Status: Pass, Message: fmt.Sprintf(format, args...)}
}

func fail(check, format string, args ...any) Result {
	return Result{Check: check, Status: Fail, Message: fmt.Sprintf(format, args...)}
}

func skip(check, format string, args ...any) Result {
	return Result{Check: check, Status: Skip, Message: fmt.Sprintf(format, args...)}
}

// Report is the outcome of every check, in order.
type Report struct {
	Config  string   `json:"config"` // the configuration file checked
	Results []Result `json:"results"`
}

// OK reports whether no check failed.
func (r *Report) OK() bool { return r.Count(Fail) == 0 }

// Count counts the results with status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == s {
			n++
		}
	}
	return n
}

// WriteTo prints the checklist — "✓", "✗" or "–", the check and its
// message, one per line (a message's further lines indented under it) —
// and last "N passed, M failed" (", K skipped" when some were).
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.Check))
	}
	var b strings.Builder
	for _, res := range r.Results {
		mark := "✓"
		switch res.Status {
		case Fail:
			mark = "✗"
		case Skip:
			mark = "–"
		}
		lines := strings.Split(strings.TrimRight(res.Message, "\n"), "\n")
		fmt.Fprintf(&b, "%s %-*s  %s\n", mark, width, res.Check, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, "", l)
		}
	}
	fmt.Fprintf(&b, "\n%d passed, %d failed", r.Count(Pass), r.Count(Fail))
	if n := r.Count(Skip); n > 0 {
		fmt.Fprintf(&b, ", %d skipped", n)
	}
	b.WriteString("\n")
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Defaults of Options.
const (
	DefaultMinFreeBytes     = 1 << 30 // 1 GiB
	DefaultMinFreePercent   = 10
	DefaultConnectorTimeout = 30 * time.Second
)

// earliestSaneTime is a floor for the clock: Snodo did not exist before.
var earliestSaneTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Options tune the checks. The zero value is the defaults.
type Options struct {
	// Now is the clock checked (default time.Now).
	Now func() time.Time
	// NotBefore is the earliest time the clock may show (default the
	// start of the year this binary was built, when the build says, and
	// never before 2025).
	NotBefore time.Time
	// The disk check fails when the file system holding the database has
	// less than MinFreeBytes (default 1 GiB) or less than MinFreePercent
	// (default 10; negative: no such limit) of its size free.
	MinFreeBytes   uint64
	MinFreePercent float64
	// ConnectorTimeout bounds the start and Check of each connector
	// (default 30 s).
	ConnectorTimeout time.Duration
	// ConnectorLog receives the connectors' own log (their stderr); nil
	// discards it.
	ConnectorLog io.Writer
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = buildFloor()
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = DefaultMinFreeBytes
	}
	if o.MinFreePercent == 0 {
		o.MinFreePercent = DefaultMinFreePercent
	}
	if o.ConnectorTimeout <= 0 {
		o.ConnectorTimeout = DefaultConnectorTimeout
	}
}

// buildFloor is the start of the year of the build's commit when the
// binary records it, and never before 2025.
func buildFloor() time.Time {
	floor := earliestSaneTime
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key != "vcs.time" {
				continue
			}
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				if y := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC); y.After(floor) {
					floor = y
				}
			}
		}
	}
	return floor
}

// Run runs every check on the set-up configured in configPath. When the
// configuration does not load, the checks that need it are skipped.
func Run(ctx context.Context, configPath string, opts Options) *Report {
	opts.defaults()
	rep := &Report{Config: configPath}
	cfg, res := CheckConfig(configPath)
	rep.Results = append(rep.Results, res)
	if cfg == nil {
		for _, c := range []string{"keys", "database", "connectors", "disk", "clock"} {
			rep.Results = append(rep.Results, skip(c, "skipped: the configuration did not load"))
		}
		return rep
	}
	rep.Config = cfg.File
	rep.Results = append(rep.Results, CheckKeys(cfg)...)
	in, dbResults := CheckDatabase(ctx, cfg)
	rep.Results = append(rep.Results, dbResults...)
	rep.Results = append(rep.Results, CheckConnectors(ctx, cfg, opts)...)
	rep.Results = append(rep.Results, CheckDisk(filepath.Dir(cfg.Path(cfg.Store.Path)), opts))
	var newest time.Time
	if in != nil {
		newest = in.Newest
	}
	rep.Results = append(rep.Results, CheckClock(opts.Now(), newest, opts.NotBefore))
	return rep
}

// CheckConfig loads the configuration; cfg is nil when it does not load.
func CheckConfig(path string) (*config.Config, Result) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fail("config", "%v", err)
	}
	enabled := 0
	for _, k := range cfg.Connectors {
		if k.IsEnabled() {
			enabled++
		}
	}
	return cfg, pass("config", "%s is valid: territory %s (%s), %s (%d enabled)",
		cfg.File, cfg.Territory.Code, cfg.Territory.Name, plural(len(cfg.Connectors), "connector"), enabled)
}

// CheckKeys checks each key file: present, a regular file, owned by the
// user running snodo, readable by nobody else, and loadable.
func CheckKeys(cfg *config.Config) []Result {
	return []Result{
		checkKey("key pseudonymisation", cfg.Path(cfg.Keys.Pseudonymisation), func(p string) error {
			_, err := keyring.LoadPseudonymisationKey(p)
			return err
		},
			"without it the hub cannot recognise people it has seen before: restore it from your offline backup of keys/; never create a new one for a database in use"),
		checkKey("key signing", cfg.Path(cfg.Keys.Signing), func(p string) error {
			_, err := keyring.LoadSigningKey(p)
			return err
		},
			"restore it from your offline backup of keys/; a new key must be enrolled with your region again"),
	}
}

func checkKey(check, path string, load func(string) error, missing string) Result {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(check, "%s is missing: %s", path, missing)
	case err != nil:
		return fail(check, "%s: %v", path, err)
	case !info.Mode().IsRegular():
		return fail(check, "%s is not a regular file (%s): put the key file itself there", path, info.Mode().Type())
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return fail(check, "%s is readable or writable by others (mode %04o): run \"chmod 600 %s\"", path, perm, path)
	}
	if uid, ok := owner(info); ok && uid != os.Getuid() {
		return fail(check, "%s belongs to uid %d, but snodo runs as uid %d: run the hub as the keys' owner, or \"chown %d %s\"", path, uid, os.Getuid(), os.Getuid(), path)
	}
	if err := load(path); err != nil {
		return fail(check, "%v", err)
	}
	return pass(check, "%s: mode %04o, owned by the user running snodo, loads", path, info.Mode().Perm())
}

// CheckDatabase inspects the database read-only: it opens, PRAGMA
// integrity_check is ok, its schema version is the one this binary knows,
// and its audit chain verifies. The inspection is nil when the database
// could not be read.
func CheckDatabase(ctx context.Context, cfg *config.Config) (*store.Inspection, []Result) {
	path := cfg.Path(cfg.Store.Path)
	skipRest := func(why string) []Result {
		return []Result{
			skip("database integrity", "skipped: %s", why),
			skip("migrations", "skipped: %s", why),
			skip("audit chain", "skipped: %s", why),
		}
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, append([]Result{fail("database", "%s does not exist: restore your latest backup (snodo restore FILE), or set the hub up with snodo init", path)}, skipRest("no database")...)
	}
	if err != nil {
		return nil, append([]Result{fail("database", "%s: %v", path, err)}, skipRest("the database cannot be read")...)
	}
	in, err := store.Inspect(ctx, path)
	if err != nil {
		return nil, append([]Result{fail("database", "%v", err)}, skipRest("the database cannot be read")...)
	}
	var out []Result
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		out = append(out, fail("database", "%s is readable or writable by others (mode %04o); it holds pseudonymised personal data: run \"chmod 600 %s\"", path, perm, path))
	} else {
		out = append(out, pass("database", "%s opens: %s, %s, mode %04o", path, size(in.Size), plural(int(in.Records), "record"), perm))
	}
	if len(in.Integrity) > 0 {
		out = append(out, fail("database integrity", "PRAGMA integrity_check found:\n%s\nstop the hub and restore your latest backup (snodo restore FILE); keep this database for investigation", strings.Join(in.Integrity, "\n")))
	} else {
		out = append(out, pass("database integrity", "PRAGMA integrity_check: ok"))
	}
	switch {
	case in.Version > in.Known:
		out = append(out, fail("migrations", "%v", &store.TooNewError{Have: in.Version, Know: in.Known}))
	case in.Version < in.Known:
		out = append(out, fail("migrations", "schema version %d, but this snodo's is %d: the hub applies the %s when it starts; back up the database first (snodo backup FILE)", in.Version, in.Known, plural(in.Known-in.Version, "pending migration")))
	default:
		out = append(out, pass("migrations", "schema version %d: current", in.Version))
	}
	if in.Audit != nil {
		out = append(out, fail("audit chain", "%v", in.Audit))
	} else {
		out = append(out, pass("audit chain", "%s, the hash chain verifies", plural(int(in.AuditEntries), "entry")))
	}
	return in, out
}

// CheckConnectors checks every enabled connector instance: its executable
// is there and matches its pin, it starts, and its Check passes with the
// instance's settings. Disabled instances are skipped.
func CheckConnectors(ctx context.Context, cfg *config.Config, opts Options) []Result {
	opts.defaults()
	var out []Result
	for _, k := range cfg.Connectors {
		out = append(out, checkConnector(ctx, cfg, k, opts))
	}
	return out
}

func checkConnector(ctx context.Context, cfg *config.Config, k config.Connector, opts Options) Result {
	check := "connector " + k.Name
	if !k.IsEnabled() {
		return skip(check, "disabled in %s", cfg.File)
	}
	plugin := cfg.Path(k.Plugin)
	sum, err := host.Sum(plugin)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(check, "%s does not exist: build or install the connector there, or fix plugin in %s", plugin, cfg.File)
	case err != nil:
		return fail(check, "%s cannot be read: %v", plugin, errors.Unwrap(err))
	case sum != strings.ToLower(k.SHA256):
		return fail(check, "%s has SHA-256 %s, but %s pins %s: the hub will not start it; if the binary was replaced on purpose, put the new sum in %s", plugin, sum, cfg.File, k.SHA256, cfg.File)
	}
	var settings []byte
	var dir string
	if k.Settings != "" {
		if settings, dir, err = config.ReadSettings(cfg.Path(k.Settings)); err != nil {
			return fail(check, "%v", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.ConnectorTimeout)
	defer cancel()
	logOut := opts.ConnectorLog
	if logOut == nil {
		logOut = io.Discard
	}
	conn, err := host.Launch(ctx, host.Config{
		Name: k.Name, Path: plugin, SHA256: k.SHA256, StartTimeout: opts.ConnectorTimeout,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "connector." + k.Name, Output: logOut, Level: hclog.Info}),
	})
	if err != nil {
		return fail(check, "does not start: %v", err)
	}
	defer conn.Close()
	m := conn.Manifest()
	if err := conn.Check(ctx, settings, dir); err != nil {
		return fail(check, "%s %s: %s", m.Name, m.Version, host.DescribeProblem(err))
	}
	return pass(check, "%s %s starts and can reach its system (%s, SHA-256 matches its pin)", m.Name, m.Version, plugin)
}

// CheckDisk checks the free space of the file system holding dir.
func CheckDisk(dir string, opts Options) Result {
	opts.defaults()
	free, total, err := diskSpace(dir)
	if errors.Is(err, errNoStatfs) {
		return skip("disk", "skipped: free space cannot be measured on this system")
	}
	if err != nil {
		return fail("disk", "measure the free space of %s: %v", dir, err)
	}
	pct := 100.0
	if total > 0 {
		pct = float64(free) / float64(total) * 100
	}
	msg := fmt.Sprintf("%s free of %s (%.0f%%) on the file system of %s", size(int64(free)), size(int64(total)), pct, dir)
	if free < opts.MinFreeBytes || pct < opts.MinFreePercent {
		least := size(int64(opts.MinFreeBytes))
		if opts.MinFreePercent > 0 {
			least += fmt.Sprintf(" and %.0f%%", opts.MinFreePercent)
		}
		return fail("disk", "only %s; keep at least %s free: the database, its WAL and backups need room, and SQLite stops writing on a full disk", msg, least)
	}
	return pass("disk", "%s", msg)
}

// CheckClock checks that now is not before notBefore nor before newest,
// the latest time the database holds (zero: none), allowing a minute for
// small corrections of the clock.
func CheckClock(now, newest, notBefore time.Time) Result {
	const grace = time.Minute
	shown := now.UTC().Format(time.RFC3339)
	switch {
	case now.Before(notBefore):
		return fail("clock", "the clock reads %s, before %s, when this snodo was built: set the system time (timedatectl, NTP); stored times must only grow", shown, notBefore.UTC().Format("2006-01-02"))
	case !newest.IsZero() && now.Before(newest.Add(-grace)):
		return fail("clock", "the clock reads %s, but the database holds times up to %s: the clock went back; set the system time (timedatectl, NTP) before running the hub: stored times must only grow", shown, newest.UTC().Format(time.RFC3339))
	case newest.IsZero():
		return pass("clock", "%s", shown)
	}
	return pass("clock", "%s, after the newest time in the database (%s)", shown, newest.UTC().Format(time.RFC3339))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	switch {
	case strings.HasSuffix(what, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// size writes a byte count for people.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
