package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
)

// nowFunc is the clock of the release commands (tests move it).
var nowFunc = time.Now

// territoryOf makes the release settings of a hub from its configuration;
// withKey loads the signing key.
func territoryOf(cfg *config.Config, withKey bool) (federation.Territory, error) {
	set, err := cfg.DisclosureSettings()
	if err != nil {
		return federation.Territory{}, &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", cfg.File, err)}
	}
	t := federation.Territory{Code: cfg.Territory.Code, SoftwareVersion: softwareVersion(), Settings: set, Now: nowFunc}
	if withKey {
		if t.SigningKey, err = keyring.LoadSigningKey(cfg.Path(cfg.Keys.Signing)); err != nil {
			return t, &exitError{code: exitUsage, err: fmt.Errorf("the territory's signing key (keys.signing in %s): %w", cfg.File, err)}
		}
	}
	return t, nil
}

// openReleaseHub reads the configuration, the release settings (and the
// signing key when withKey) and opens the store: the prologue of the stats
// and federate commands.
func openReleaseHub(ctx context.Context, configPath string, withKey bool) (*config.Config, federation.Territory, *store.Store, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, federation.Territory{}, nil, err
	}
	ter, err := territoryOf(cfg, withKey)
	if err != nil {
		return nil, ter, nil, err
	}
	st, err := store.Open(ctx, cfg.Path(cfg.Store.Path), store.WithBusyTimeout(cfg.BusyTimeout()))
	if err != nil {
		return nil, ter, nil, &exitError{code: exitUsage, err: err}
	}
	return cfg, ter, st, nil
}

func softwareVersion() string {
	if v := buildVersion(); v != "" {
		return v
	}
	return "devel"
}

// refusal gives a release refused by policy (overspend, too early, a
// revision out of order) exit code 1, anything else 2.
func refusal(err error) error {
	var oe *disclosure.OverspendError
	msg := err.Error()
	if errors.As(err, &oe) || strings.Contains(msg, "cannot be released before") ||
		strings.Contains(msg, "the next revision is") || strings.Contains(msg, "the first release is revision 0") {
		return &exitError{code: exitFindings, err: err}
	}
	return &exitError{code: exitUsage, err: err}
}

// budgetJSON is a reporting year's ledger.
type budgetJSON struct {
	Year     int    `json:"year"`
	Cap      string `json:"rho_cap"`
	Spent    string `json:"rho_spent"`
	Left     string `json:"rho_left"`
	Releases int    `json:"releases"`
}

func toBudgetJSON(b disclosure.Budget) budgetJSON {
	return budgetJSON{Year: b.Year, Cap: b.Cap.RatString(), Spent: b.Spent.RatString(), Left: b.Left.RatString(), Releases: len(b.Entries)}
}

// rho writes an exact ρ with its decimal value.
func rho(r *big.Rat) string {
	if r == nil {
		return "-"
	}
	if r.IsInt() {
		return r.RatString()
	}
	return fmt.Sprintf("%s (%s)", r.RatString(), strings.TrimRight(r.FloatString(6), "0"))
}

// cellJSON is a cell of a preview or a release.
type cellJSON struct {
	Indicator  string            `json:"indicator"`
	Version    string            `json:"version"`
	Breakdown  map[string]string `json:"breakdown"`
	Measure    string            `json:"measure"`
	Suppressed bool              `json:"suppressed"`
	// TrueCount is shown by a preview for a cell that would be published
	// (never for a suppressed one); Value is a stored release's published
	// value.
	TrueCount *int64 `json:"true_count,omitempty"`
	Value     *int64 `json:"value,omitempty"`
}

func breakdownText(b map[string]string) string {
	if len(b) == 0 {
		return "total"
	}
	parts := make([]string, 0, len(b))
	for k, v := range b {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// previewReport is what "snodo stats preview --json" prints.
type previewReport struct {
	Territory   string                       `json:"territory"`
	Epoch       string                       `json:"epoch"`
	Revision    int                          `json:"revision"`
	Catalogue   string                       `json:"catalogue_version"`
	Mode        string                       `json:"mode"`
	AsOf        time.Time                    `json:"as_of"`
	Due         bool                         `json:"due"`
	Released    bool                         `json:"released"`
	Refused     string                       `json:"refused,omitempty"`
	Rho         string                       `json:"rho"`
	Tables      int                          `json:"tables"`
	Sigma2      string                       `json:"sigma2,omitempty"`
	HalfWidth95 int64                        `json:"noise_half_width_95,omitempty"`
	Headline    *headlineJSON                `json:"headline,omitempty"`
	Budget      budgetJSON                   `json:"budget"`
	Published   int                          `json:"published"`
	Suppressed  int                          `json:"suppressed"`
	Cells       []cellJSON                   `json:"cells"`
	Withheld    []federation.WithheldMeasure `json:"withheld"`
	Skipped     []string                     `json:"skipped,omitempty"`
}

func newStatsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Preview and release the territory's anonymised statistics",
		Long: `The territory sends only statistics upward: the indicators of the catalogue,
computed for a release epoch (a quarter, provisional, or a year, final), protected
by disclosure control (a threshold on true counts, then discrete Gaussian noise,
or rounding in the fallback mode; see the "disclosure:" settings of snodo.yaml),
signed with the territory's key and queued for the region.`,
	}
	cmd.AddCommand(newStatsPreviewCmd(), newStatsReleaseCmd())
	return cmd
}

func newStatsPreviewCmd() *cobra.Command {
	var configPath, period string
	var revision int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "preview --period P [--revision N] [--json] [--config FILE]",
		Short: "Show what a release of a period would publish, without releasing it",
		Long: `Preview computes the indicators of a period (2025 or 2025-Q1) as the release
would, as of the epoch's release date (a quarter's end + 30 days, a year's end +
120 days), and shows which cells would be suppressed, the noise, the ρ the release
would spend and what the year's budget has left, and whether the epoch is already
released. It draws no noise and stores nothing.

For the territory's administrator it shows the true count of each cell that would
be published (true counts never leave the hub: the region gets noisy values).
A suppressed cell shows no count. Sum measures (the cost indicator) are withheld
from releases and listed as such. Once an epoch is released, preview shows the
stored published values instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if period == "" {
				return usageError("say which period to preview: --period 2025-Q1 (a quarter) or --period 2025 (a year)")
			}
			ctx := cmd.Context()
			cfg, ter, st, err := openReleaseHub(ctx, configPath, false)
			if err != nil {
				return err
			}
			defer st.Close()
			p, err := federation.Preview(ctx, st, ter, period, revision)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			rep := toPreviewReport(cfg, ter, p)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			printPreview(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&period, "period", "", "the period: a year (2025) or a quarter (2025-Q1)")
	cmd.Flags().IntVar(&revision, "revision", 0, "the revision to preview")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// headlineJSON is the totals' tier of a release's noise: its tables, σ²
// and the ± that holds 95% of a total's noise.
type headlineJSON struct {
	Tables      int    `json:"tables"`
	Sigma2      string `json:"sigma2"`
	HalfWidth95 int64  `json:"noise_half_width_95,omitempty"`
}

func headlineOf(n *disclosure.NoisePlan, halfWidth int64) *headlineJSON {
	if n == nil || n.Headline == nil {
		return nil
	}
	return &headlineJSON{Tables: n.Headline.Tables, Sigma2: n.Headline.Sigma2.RatString(), HalfWidth95: halfWidth}
}

// noiseText describes a release's noise in one line.
func noiseText(sigma2 string, halfWidth int64, h *headlineJSON) string {
	if h == nil {
		return fmt.Sprintf("noise σ² = %s per cell, 95%% of the noise within ±%d", sigma2, halfWidth)
	}
	return fmt.Sprintf("noise σ² = %s per total (%d tables, 95%% within ±%d) and %s per breakdown cell (95%% within ±%d)",
		h.Sigma2, h.Tables, h.HalfWidth95, sigma2, halfWidth)
}

func toPreviewReport(cfg *config.Config, ter federation.Territory, p *federation.Previewed) previewReport {
	pr := p.Preview
	rep := previewReport{Territory: cfg.Territory.Code, Epoch: pr.Epoch.Name, Revision: pr.Revision, Catalogue: p.CatalogueVersion,
		Mode: string(ter.Settings.Mode), AsOf: p.AsOf, Due: p.Due, Released: pr.Released, Rho: pr.Rho.RatString(), Tables: pr.Tables,
		HalfWidth95: p.HalfWidth95, Budget: toBudgetJSON(pr.Budget), Cells: []cellJSON{}, Withheld: p.Withheld, Skipped: p.Skipped}
	if rep.Withheld == nil {
		rep.Withheld = []federation.WithheldMeasure{}
	}
	if pr.Refused != nil {
		rep.Refused = pr.Refused.Error()
	}
	if p.Noise != nil {
		rep.Sigma2 = p.Noise.Sigma2.RatString()
		rep.Headline = headlineOf(p.Noise, p.HeadlineHalfWidth95)
	}
	if s := p.Stored; s != nil {
		rep.Rho, rep.Tables, rep.Catalogue, rep.Mode = s.Rho.RatString(), s.Tables, s.CatalogueVersion, string(s.Settings.Mode)
		for _, c := range s.Cells {
			cj := cellJSON{Indicator: c.Indicator, Version: c.Version, Breakdown: c.Breakdown, Measure: c.Measure, Suppressed: c.Suppressed}
			if !c.Suppressed {
				v := c.Value
				cj.Value = &v
			}
			rep.Cells = append(rep.Cells, cj)
		}
	} else {
		for i, c := range pr.Cells {
			cj := cellJSON{Indicator: c.Indicator, Version: c.Version, Breakdown: c.Breakdown, Measure: c.Measure, Suppressed: c.Suppressed}
			if !c.Suppressed {
				cj.TrueCount = p.Counts[i]
			}
			rep.Cells = append(rep.Cells, cj)
		}
	}
	for i := range rep.Cells {
		if rep.Cells[i].Breakdown == nil {
			rep.Cells[i].Breakdown = map[string]string{}
		}
		if rep.Cells[i].Suppressed {
			rep.Suppressed++
		} else {
			rep.Published++
		}
	}
	return rep
}

func printPreview(out io.Writer, rep previewReport) {
	fmt.Fprintf(out, "Preview of %s revision %d for %s (catalogue %s, %s mode)\n", rep.Epoch, rep.Revision, rep.Territory, rep.Catalogue, rep.Mode)
	asOf := rep.AsOf.UTC().Format("2006-01-02 15:04 UTC")
	switch {
	case rep.Released:
		fmt.Fprintf(out, "Already released: the values below are the stored ones, re-sent identically on every retry\n")
	case rep.Due:
		fmt.Fprintf(out, "Computed as of %s; due: release it with \"snodo stats release --epoch %s\"\n", asOf, rep.Epoch)
	default:
		fmt.Fprintf(out, "Computed as of %s, which has not come yet: the release is possible from then, and the counts may still change\n", asOf)
	}
	spend := "spends"
	if !rep.Released {
		spend = "would spend"
	}
	fmt.Fprintf(out, "ρ: %s %s over %d tables", spend, rho(mustRat(rep.Rho)), rep.Tables)
	if rep.Sigma2 != "" {
		fmt.Fprintf(out, "; %s", noiseText(rep.Sigma2, rep.HalfWidth95, rep.Headline))
	}
	fmt.Fprintln(out)
	b := rep.Budget
	fmt.Fprintf(out, "Budget %d: cap %s, spent %s, left %s\n", b.Year, rho(mustRat(b.Cap)), rho(mustRat(b.Spent)), rho(mustRat(b.Left)))
	if rep.Refused != "" {
		fmt.Fprintf(out, "Refused: %s\n", rep.Refused)
	}
	fmt.Fprintf(out, "\nCells: %d published, %d suppressed\n", rep.Published, rep.Suppressed)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if rep.Released {
		fmt.Fprintln(tw, "  INDICATOR\tVERSION\tBREAKDOWN\tMEASURE\tPUBLISHED")
	} else {
		fmt.Fprintln(tw, "  INDICATOR\tVERSION\tBREAKDOWN\tMEASURE\tTRUE COUNT")
	}
	for _, c := range rep.Cells {
		v := "suppressed"
		switch {
		case c.Suppressed:
		case c.TrueCount != nil:
			v = strconv.FormatInt(*c.TrueCount, 10)
		case c.Value != nil:
			v = strconv.FormatInt(*c.Value, 10)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Indicator, c.Version, breakdownText(c.Breakdown), c.Measure, v)
	}
	tw.Flush()
	for _, w := range rep.Withheld {
		fmt.Fprintf(out, "Withheld: %s %s %s: %s\n", w.Indicator, w.Version, w.Measure, w.Reason)
	}
	for _, id := range rep.Skipped {
		fmt.Fprintf(out, "Skipped: indicator %s is not computed by this version of snodo\n", id)
	}
	if !rep.Released {
		fmt.Fprintln(out, "\nTrue counts are shown to the territory's administrator only and never leave the hub; suppressed cells show none.")
	}
}

func mustRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil
	}
	return r
}

// releaseReport is what "snodo stats release --json" prints.
type releaseReport struct {
	Territory   string                       `json:"territory"`
	Epoch       string                       `json:"epoch"`
	Revision    int                          `json:"revision"`
	Catalogue   string                       `json:"catalogue_version"`
	New         bool                         `json:"new"`
	Enqueued    bool                         `json:"enqueued"`
	OutboxID    int64                        `json:"outbox_id"`
	Mechanism   string                       `json:"mechanism"`
	Sigma2      string                       `json:"sigma2,omitempty"`
	Headline    *headlineJSON                `json:"headline,omitempty"`
	Tables      int                          `json:"tables"`
	RhoSpent    string                       `json:"rho_spent"`
	Budget      budgetJSON                   `json:"budget"`
	Cells       int                          `json:"cells"`
	Suppressed  int                          `json:"suppressed"`
	Withheld    []federation.WithheldMeasure `json:"withheld"`
	EnvelopeLen int                          `json:"envelope_bytes"`
}

func newStatsReleaseCmd() *cobra.Command {
	var configPath, epoch string
	var revision int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "release --epoch E [--revision N] [--json] [--config FILE]",
		Short: "Compute, protect, sign and queue the release of an epoch",
		Long: `Release computes the indicators of an epoch (2025-Q1, a quarterly provisional
release, from 30 days after the quarter; 2025, the annual final release, from 120
days after the year), protects them with the territory's disclosure settings,
records the ρ it spends in the year's budget ledger, signs the envelope with the
territory's key and queues it in the outbox for the region ("snodo federate status"
follows it).

A release is made once: running the command again prints the same release and
queues nothing new. A revision (--revision 1, 2, …) is a new, announced release
that spends budget again. It refuses, with exit code 1, a release that would
overspend the year's budget, an epoch before its release date and a revision out
of order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if epoch == "" {
				return usageError("say which epoch to release: --epoch 2025-Q1 (a quarter) or --epoch 2025 (the year); preview it first with \"snodo stats preview --period 2025-Q1\"")
			}
			ctx := cmd.Context()
			cfg, ter, st, err := openReleaseHub(ctx, configPath, true)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := federation.Release(ctx, st, ter, epoch, revision)
			if err != nil {
				return refusal(err)
			}
			rel := r.Release
			rep := releaseReport{Territory: cfg.Territory.Code, Epoch: rel.Epoch.Name, Revision: rel.Revision, Catalogue: rel.CatalogueVersion,
				New: r.New, Enqueued: r.Enqueued, OutboxID: r.OutboxID, Mechanism: rel.Mechanism, Tables: rel.Tables,
				RhoSpent: rel.Rho.RatString(), Budget: toBudgetJSON(r.Budget), Cells: len(rel.Cells), Withheld: r.Withheld, EnvelopeLen: len(r.Envelope)}
			if rep.Withheld == nil {
				rep.Withheld = []federation.WithheldMeasure{}
			}
			if rel.Noise != nil {
				rep.Sigma2 = rel.Noise.Sigma2.RatString()
				rep.Headline = headlineOf(rel.Noise, 0)
			}
			for _, c := range rel.Cells {
				if c.Suppressed {
					rep.Suppressed++
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rep)
			}
			switch {
			case rep.New:
				fmt.Fprintf(out, "Released %s revision %d for %s (catalogue %s)\n", rep.Epoch, rep.Revision, rep.Territory, rep.Catalogue)
			default:
				fmt.Fprintf(out, "%s revision %d was already released: the stored release is unchanged, no ρ spent, no new noise\n", rep.Epoch, rep.Revision)
			}
			if rep.Enqueued {
				fmt.Fprintf(out, "Envelope signed (%d bytes) and queued for the region as outbox message %d\n", rep.EnvelopeLen, rep.OutboxID)
			} else {
				fmt.Fprintf(out, "Envelope already in the outbox as message %d: nothing queued again (see \"snodo federate status\")\n", rep.OutboxID)
			}
			fmt.Fprintf(out, "Cells: %d, of which %d suppressed; %s", rep.Cells, rep.Suppressed, rep.Mechanism)
			if rep.Sigma2 != "" {
				if rep.Headline != nil {
					fmt.Fprintf(out, ", over %d tables: σ² = %s for the %d of the totals, %s for the breakdowns", rep.Tables, rep.Headline.Sigma2, rep.Headline.Tables, rep.Sigma2)
				} else {
					fmt.Fprintf(out, ", σ² = %s over %d tables", rep.Sigma2, rep.Tables)
				}
			}
			fmt.Fprintln(out)
			b := rep.Budget
			fmt.Fprintf(out, "ρ spent by this release: %s; budget %d: spent %s of %s, left %s\n", rho(rel.Rho), b.Year,
				rho(mustRat(b.Spent)), rho(mustRat(b.Cap)), rho(mustRat(b.Left)))
			for _, w := range rep.Withheld {
				fmt.Fprintf(out, "Withheld: %s %s %s: %s\n", w.Indicator, w.Version, w.Measure, w.Reason)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&epoch, "epoch", "", "the epoch: a year (2025, final) or a quarter (2025-Q1, provisional)")
	cmd.Flags().IntVar(&revision, "revision", 0, "the revision: 0, then 1, 2, … for an announced revision")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// federateReport is what "snodo federate status --json" prints.
type federateReport struct {
	Territory   string                      `json:"territory"`
	RegionURL   string                      `json:"region_url,omitempty"`
	NATSURL     string                      `json:"nats_url,omitempty"`
	NATSSubject string                      `json:"nats_subject,omitempty"`
	Envelopes   []federation.OutboxEnvelope `json:"envelopes"`
	Budgets     []budgetJSON                `json:"budgets"`
}

func newFederateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "federate",
		Short: "Follow the envelopes sent to the region",
	}
	var configPath string
	var asJSON bool
	status := &cobra.Command{
		Use:   "status [--json] [--config FILE]",
		Short: "Show the envelopes in the outbox and the privacy budget per year",
		Long: `Status lists the signed envelopes of the territory's releases in the outbox:
pending (waiting for their first or next attempt), failed (the last attempt
failed: its error and the next attempt are shown) or delivered; and the privacy
budget of each reporting year (the cap, the ρ spent and what is left).

It reads the database and sends nothing; it works while the hub runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, ter, st, err := openReleaseHub(ctx, configPath, false)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := federateStatus(ctx, cfg, ter, st)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rep)
			}
			printFederate(out, rep)
			return nil
		},
	}
	status.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(status, newFederatePushCmd())
	return cmd
}

func federateStatus(ctx context.Context, cfg *config.Config, ter federation.Territory, st *store.Store) (federateReport, error) {
	rep := federateReport{Territory: cfg.Territory.Code, RegionURL: cfg.Federation.RegionURL, NATSURL: cfg.Federation.NATSURL,
		Envelopes: []federation.OutboxEnvelope{}, Budgets: []budgetJSON{}}
	if rep.NATSURL != "" {
		// The subject the uplink publishes on (federation.EnvelopeSubject),
		// the one the region's consumer reads.
		rep.NATSSubject, _ = federation.EnvelopeSubject(cfg.Territory.Code)
	}
	envs, err := federation.Outbox(ctx, st)
	if err != nil {
		return rep, err
	}
	rep.Envelopes = append(rep.Envelopes, envs...)
	ledger, err := disclosure.NewLedger(st, ter.Settings)
	if err != nil {
		return rep, err
	}
	years := map[int]bool{nowFunc().Year(): true}
	for _, e := range envs {
		if ep, err := disclosure.ParseEpoch(e.Epoch); err == nil {
			years[ep.Year] = true
		}
	}
	for _, y := range slices.Sorted(func(yield func(int) bool) {
		for y := range years {
			if !yield(y) {
				return
			}
		}
	}) {
		b, err := ledger.Budget(ctx, y)
		if err != nil {
			return rep, err
		}
		rep.Budgets = append(rep.Budgets, toBudgetJSON(b))
	}
	return rep, nil
}

func printFederate(out io.Writer, rep federateReport) {
	fmt.Fprintf(out, "Territory %s\n", rep.Territory)
	switch {
	case rep.NATSURL != "":
		fmt.Fprintf(out, "Region: NATS JetStream %s, subject %s\n", rep.NATSURL, rep.NATSSubject)
	case rep.RegionURL != "":
		fmt.Fprintf(out, "Region: %s (HTTP)\n", rep.RegionURL)
	default:
		fmt.Fprintln(out, "Region: not configured; envelopes wait in the outbox until federation.region_url (or nats_url) is set in snodo.yaml")
	}
	fmt.Fprintln(out, "\nEnvelopes")
	if len(rep.Envelopes) == 0 {
		fmt.Fprintln(out, "  none yet: release an epoch with \"snodo stats release --epoch 2025-Q1\"")
	} else {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  EPOCH\tREVISION\tSTATE\tATTEMPTS\tQUEUED\tNEXT ATTEMPT / DELIVERED")
		for _, e := range rep.Envelopes {
			when := "-"
			switch {
			case !e.DeliveredAt.IsZero():
				when = e.DeliveredAt.Local().Format(time.DateTime)
			case !e.NextAttemptAt.IsZero():
				when = e.NextAttemptAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%d\t%s\t%s\n", e.Epoch, e.Revision, e.State, e.Attempts, e.CreatedAt.Local().Format(time.DateTime), when)
		}
		tw.Flush()
		for _, e := range rep.Envelopes {
			if e.State != "delivered" && e.LastError != "" {
				fmt.Fprintf(out, "  %s revision %d: last error: %s\n", e.Epoch, e.Revision, e.LastError)
			}
		}
	}
	fmt.Fprintln(out, "\nPrivacy budget (ρ, zCDP)")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  YEAR\tCAP\tSPENT\tLEFT\tRELEASES")
	for _, b := range rep.Budgets {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%d\n", b.Year, rho(mustRat(b.Cap)), rho(mustRat(b.Spent)), rho(mustRat(b.Left)), b.Releases)
	}
	tw.Flush()
}
