package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/examples/sources/cpi"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/examples/sources/sds"
	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/plugins/host"
)

// demoLiveModel is a territory of the demo that runs live: its source
// systems run as simulators (examples/sources), read and written by the
// reference connectors as processes, under a territory hub ("snodo run")
// that routes referrals between them.
type demoLiveModel struct {
	code  string
	model string // the service model, as the summary names it
	// systems run live, each with its connector instance (named as the
	// system); the comune is always one: it holds the consents.
	systems []population.System
	// targets receive the comune's referrals, with the referral category
	// each is sent for; perDay is how many the comune sends a day.
	targets []demoTarget
	perDay  int
}

type demoTarget struct {
	sys      population.System
	org      string
	category string
}

// demoLiveModels: three territories of different sizes (Firenze the
// largest, Pisa in the middle, Massa-Carrara the smallest) and different
// service models.
var demoLiveModels = []demoLiveModel{
	{code: "TOS-FI", model: "integrato: comune, SdS e centro per l'impiego", perDay: 3,
		systems: []population.System{population.Comune, population.SDS, population.CPI},
		targets: []demoTarget{{population.CPI, cpi.OrgID, "employment-status"}, {population.SDS, sds.OrgID, "housing-instability"}}},
	{code: "TOS-PI", model: "inclusione lavorativa: comune e centro per l'impiego", perDay: 2,
		systems: []population.System{population.Comune, population.CPI},
		targets: []demoTarget{{population.CPI, cpi.OrgID, "employment-status"}}},
	{code: "TOS-MS", model: "sociosanitario: comune e SdS", perDay: 1,
		systems: []population.System{population.Comune, population.SDS},
		targets: []demoTarget{{population.SDS, sds.OrgID, "housing-instability"}}},
}

func liveModelOf(code string) (demoLiveModel, bool) {
	for _, m := range demoLiveModels {
		if m.code == code {
			return m, true
		}
	}
	return demoLiveModel{}, false
}

// The live phase: demoLiveDays simulated days of new referrals, each
// demoDayLength long, then the staff's work goes on until every referral
// is closed in the comune's system (or demoSettleLimit passes).
const (
	demoLiveDays    = 12
	demoDayLength   = 500 * time.Millisecond
	demoSettleLimit = 90 * time.Second
)

// connectorSource finds Snodo's source tree, for building the reference
// connectors: the module of the working folder, when it is Snodo.
func connectorSource(ctx context.Context) (string, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", errors.New("no Go toolchain on PATH")
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	data, err := os.ReadFile(gomod)
	if gomod == "" || gomod == os.DevNull || err != nil || !bytes.Contains(data, []byte("module github.com/snodo-hub/snodo\n")) {
		return "", errors.New("the working folder is not in Snodo's source tree")
	}
	return filepath.Dir(gomod), nil
}

// buildDemoConnectors builds the reference connectors of the live
// systems into DIR/bin with the Go toolchain, as a vendor's build would.
func buildDemoConnectors(ctx context.Context, dir string) (map[population.System]string, error) {
	src, err := connectorSource(ctx)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	out := map[population.System]string{}
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, sys := range demoSystems {
		args = append(args, "./connectors/"+string(sys))
		out[sys] = filepath.Join(bin, string(sys))
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = src
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build of the connectors: %v\n%s", err, msg)
	}
	for sys, path := range out {
		renamed := filepath.Join(bin, "snodo-connector-"+string(sys))
		if err := os.Rename(path, renamed); err != nil {
			return nil, err
		}
		out[sys] = renamed
	}
	return out, nil
}

// liveTerritory is a live territory at work: its simulators, their
// servers, and its hub.
type liveTerritory struct {
	m      demoLiveModel
	t      compare.Territory
	hubDir string
	cfg    string

	comune *comune.Server
	cpi    *cpi.Server
	sds    *sds.System
	srvs   []*http.Server

	base         string // the hub's API
	viewer, oper string // tokens
	stopHub      context.CancelFunc
	hubDone      chan int
	candidates   map[population.System][]*population.Person // referable people, by target
	sent         []string                                   // the comune's referral ids
	r            *rand.Rand
}

// startLive starts the territory's simulated systems over its population,
// writes its connectors and organisations into snodo.yaml and starts its
// hub.
func startLive(ctx context.Context, dir string, m demoLiveModel, t compare.Territory, pop *population.Population, bins map[population.System]string, seed int64, listen string) (*liveTerritory, error) {
	lt := &liveTerritory{m: m, t: t, hubDir: filepath.Join(dir, "territories", t.Code),
		r: rand.New(rand.NewPCG(uint64(seed), 0x11fe))}
	lt.cfg = filepath.Join(lt.hubDir, "snodo.yaml")
	sources := filepath.Join(dir, "sources", t.Code)
	if err := os.MkdirAll(sources, 0o700); err != nil {
		return nil, err
	}
	settings := map[population.System]string{}
	serve := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("a simulated system cannot listen on loopback: %w", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		lt.srvs = append(lt.srvs, srv)
		go func() { _ = srv.Serve(ln) }()
		return "http://" + ln.Addr().String(), nil
	}
	var err error
	for _, sys := range m.systems {
		switch sys {
		case population.Comune:
			if lt.comune, err = comune.New(comune.Options{Population: pop}); err != nil {
				return lt, err
			}
			url, err := serve(lt.comune)
			if err != nil {
				return lt, err
			}
			settings[sys] = fmt.Sprintf("source: comune\nterritory: %s\nbase_url: %s\napi_key: %s\norganisation: %s\n",
				t.Code, url, comune.DefaultAPIKey, comune.OrgID)
		case population.CPI:
			lt.cpi = cpi.New(cpi.Options{Population: pop})
			url, err := serve(lt.cpi)
			if err != nil {
				return lt, err
			}
			settings[sys] = fmt.Sprintf("source: cpi\nterritory: %s\nbase_url: %s\norganisation: %s\ntimeout_seconds: 10\n", t.Code, url, cpi.OrgID)
		case population.SDS:
			if lt.sds, err = sds.New(sds.Options{Population: pop, Dir: filepath.Join(sources, "sds")}); err != nil {
				return lt, err
			}
			if _, err := lt.sds.WriteNight(); err != nil {
				return lt, err
			}
			settings[sys] = fmt.Sprintf("source: sds\nterritory: %s\nfolder: %s\ninbox: %s\norganisation: %s\n",
				t.Code, lt.sds.ExportDir(), lt.sds.InboxDir(), sds.OrgID)
		}
	}
	var conf strings.Builder
	conf.WriteString("\n# The live systems of the demo (examples/sources simulators) and their connectors.\nconnectors:\n")
	for _, sys := range m.systems {
		sum, err := host.Sum(bins[sys])
		if err != nil {
			return lt, err
		}
		name := string(sys)
		if err := os.WriteFile(filepath.Join(lt.hubDir, name+".yaml"), []byte(settings[sys]), 0o600); err != nil {
			return lt, err
		}
		fmt.Fprintf(&conf, "  - {name: %s, plugin: %s, sha256: %s, settings: %s.yaml, read_interval: 200ms}\n", name, bins[sys], sum, name)
	}
	conf.WriteString("organisations:\n")
	for _, o := range population.Organisations() {
		if slices.Contains(m.systems, o.System) && o.System != "" {
			fmt.Fprintf(&conf, "  - {id: %s, name: %q, connector: %s}\n", o.ID, o.Name, o.System)
		}
	}
	conf.WriteString("referrals:\n  delivery_interval: 1s\n")
	if err := appendFile(lt.cfg, conf.String()); err != nil {
		return lt, err
	}
	if lt.viewer, err = demoToken(ctx, lt.cfg, "viewer"); err != nil {
		return lt, err
	}
	if lt.oper, err = demoToken(ctx, lt.cfg, "operator"); err != nil {
		return lt, err
	}
	lt.candidates = referable(pop, lt.comune, m.targets, lt.r)
	return lt, lt.startHub(ctx, listen)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// demoToken makes a token of the role as "snodo tokens create" does.
func demoToken(ctx context.Context, cfg, role string) (string, error) {
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"tokens", "create", "--role", role, "--name", "demo-" + role, "--config", cfg}, nil, &out, &errOut); code != exitOK {
		return "", fmt.Errorf("create a %s token: %s", role, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// startHub runs "snodo run" for the territory, its log in snodo.log, its
// API at listen (or a free loopback port).
func (lt *liveTerritory) startHub(ctx context.Context, listen string) error {
	addr, err := freeAddr(listen)
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(lt.hubDir, "snodo.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	hubCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	lt.stopHub, lt.hubDone, lt.base = stop, make(chan int, 1), "http://"+addr
	go func() {
		code := run(hubCtx, []string{"run", "--config", lt.cfg, "--listen", addr}, nil, io.Discard, logFile)
		logFile.Close()
		lt.hubDone <- code
	}()
	// Ready when its API answers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(lt.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case code := <-lt.hubDone:
			lt.hubDone <- code
			return fmt.Errorf("the hub of %s stopped at start (exit %d): see %s", lt.t.Code, code, filepath.Join(lt.hubDir, "snodo.log"))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the hub of %s did not get ready in 30 s: see %s", lt.t.Code, filepath.Join(lt.hubDir, "snodo.log"))
		}
	}
}

// freeAddr is listen when it can be listened on, else a free loopback
// port.
func freeAddr(listen string) (string, error) {
	for _, a := range []string{listen, "127.0.0.1:0"} {
		if a == "" {
			continue
		}
		ln, err := net.Listen("tcp", a)
		if err == nil {
			addr := ln.Addr().String()
			ln.Close()
			return addr, nil
		}
	}
	return "", errors.New("no free port on loopback for a territory hub")
}

// stop stops the hub (gracefully, as SIGTERM would) and the simulators.
func (lt *liveTerritory) stop() {
	if lt.stopHub != nil {
		lt.stopHub()
		<-lt.hubDone
		lt.stopHub = nil
	}
	for _, s := range lt.srvs {
		_ = s.Close()
	}
	lt.srvs = nil
}

// referable lists, for each target, the people the comune may refer
// there: adults known to both systems by the same valid codice fiscale,
// with an active consent to share with the target, in a seeded order.
func referable(pop *population.Population, c *comune.Server, targets []demoTarget, r *rand.Rand) map[population.System][]*population.Person {
	consents := c.ActiveConsents("referral")
	out := map[population.System][]*population.Person{}
	for _, tg := range targets {
		var list []*population.Person
		for _, p := range pop.People() {
			if p.Age() < 18 || p.CF == "" || !consents[[2]string{p.LocalID(population.Comune), tg.org}] {
				continue
			}
			ok := true
			for _, sys := range []population.System{population.Comune, tg.sys} {
				kind, code := p.IDIn(sys)
				ok = ok && p.In(sys) && !p.TypoIn(sys) && kind == population.KindCF && code == p.CF
			}
			if ok {
				list = append(list, p)
			}
		}
		r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
		out[tg.sys] = list
	}
	return out
}

// day is one simulated day: the comune's social workers send their
// referrals (when send), the receiving services' staff work on theirs,
// the SdS writes its night's export, and the comune's clock moves on.
func (lt *liveTerritory) day(send bool) error {
	if send {
		for i := 0; i < lt.m.perDay; i++ {
			tg := lt.m.targets[lt.r.IntN(len(lt.m.targets))]
			list := lt.candidates[tg.sys]
			if len(list) == 0 {
				continue
			}
			p := list[0]
			lt.candidates[tg.sys] = list[1:]
			priority := []string{"routine", "routine", "urgent"}[lt.r.IntN(3)]
			ref, err := lt.comune.CreateReferral(p.Index, tg.org, tg.category, priority)
			if err != nil {
				return fmt.Errorf("%s: the comune's referral: %w", lt.t.Code, err)
			}
			lt.sent = append(lt.sent, ref.ID)
		}
	}
	if lt.cpi != nil {
		lt.cpi.Advance()
	}
	if lt.sds != nil {
		if _, _, err := lt.sds.ProcessInbox(); err != nil {
			return fmt.Errorf("%s: the SdS's inbox: %w", lt.t.Code, err)
		}
		lt.sds.Advance()
		if _, err := lt.sds.WriteNight(); err != nil {
			return fmt.Errorf("%s: the SdS's night: %w", lt.t.Code, err)
		}
	}
	lt.comune.Advance(24 * time.Hour)
	return nil
}

// loop counts the comune's referrals: sent, closed in the comune's own
// system (the answer came back through the hub), and by Italian status.
func (lt *liveTerritory) loop() (sent, closed int, byStatus map[string]int) {
	byStatus = map[string]int{}
	for _, id := range lt.sent {
		s, ok := lt.comune.Referral(id)
		if !ok {
			continue
		}
		byStatus[s.Stato]++
		if comune.IsFinal(s.Stato) {
			closed++
		}
	}
	return len(lt.sent), closed, byStatus
}

// runLive drives the live territories through the days, then until every
// referral is closed, showing progress on stderr (a line in place on a
// terminal, the outcome of each phase otherwise).
func runLive(ctx context.Context, lts []*liveTerritory, stderr io.Writer) error {
	pr := newProgress(stderr)
	state := func() string {
		var parts []string
		for _, lt := range lts {
			sent, closed, _ := lt.loop()
			parts = append(parts, fmt.Sprintf("%s %d/%d chiuse", lt.t.Code, closed, sent))
		}
		return strings.Join(parts, ", ")
	}
	for d := 1; d <= demoLiveDays; d++ {
		for _, lt := range lts {
			if err := lt.day(true); err != nil {
				return err
			}
		}
		pr.show(fmt.Sprintf("Dal vivo, giorno %d/%d: %s", d, demoLiveDays, state()))
		if err := sleepCtx(ctx, demoDayLength); err != nil {
			return err
		}
	}
	start := time.Now()
	for {
		open := 0
		for _, lt := range lts {
			if sent, closed, _ := lt.loop(); closed < sent {
				open++
				if err := lt.day(false); err != nil {
					return err
				}
			}
		}
		pr.show("Dal vivo, le risposte tornano: " + state())
		if open == 0 || time.Since(start) > demoSettleLimit {
			pr.show("")
			how := "ciclo chiuso"
			if open > 0 {
				how = fmt.Sprintf("ciclo ancora aperto dopo %s", demoSettleLimit)
			}
			fmt.Fprintf(stderr, "Dal vivo, %d giorni di segnalazioni, %s: %s\n", demoLiveDays, how, state())
			return nil
		}
		if err := sleepCtx(ctx, demoDayLength); err != nil {
			return err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// keepLive goes on with a day every interval until ctx ends, while the
// demo serves: the territory dashboards and APIs keep moving.
func keepLive(ctx context.Context, lts []*liveTerritory, interval time.Duration, wg *sync.WaitGroup, stderr io.Writer) {
	wg.Go(func() {
		said := map[string]bool{} // a failing territory is reported once, not every interval
		for n := 0; ; n++ {
			if sleepCtx(ctx, interval) != nil {
				return
			}
			for _, lt := range lts {
				if err := lt.day(n%3 == 0); err != nil && !said[lt.t.Code] && ctx.Err() == nil {
					said[lt.t.Code] = true
					fmt.Fprintf(stderr, "%s: il territorio dal vivo si è fermato: %v\n", lt.t.Code, err)
				}
			}
		}
	})
}

// demoLiveSummary is what the summary says of a live territory's loop.
type demoLiveSummary struct {
	Model string `json:"model"`
	// Sent and Closed count the referrals the comune sent during the live
	// phase, and those whose outcome came back into its system.
	Sent   int            `json:"sent"`
	Closed int            `json:"closed"`
	Status map[string]int `json:"comune_status"`
	// API is the hub's address while the demo serves; "" once stopped.
	API string `json:"api,omitempty"`
}

func (lt *liveTerritory) summary() *demoLiveSummary {
	sent, closed, by := lt.loop()
	return &demoLiveSummary{Model: lt.m.model, Sent: sent, Closed: closed, Status: by, API: lt.base}
}

// withFigures writes the territory's public figures into its snodo.yaml,
// for its own dashboard's per-capita rates.
func withFigures(path string, t compare.Territory) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	comuni, _ := json.Marshal(t.Comuni)
	lines := fmt.Sprintf("  population: %d\n  foreign_residents: %d\n  comuni: %s\n", t.Population, t.ForeignResidents, comuni)
	loc := territoryNameLine.FindIndex(data)
	if loc == nil {
		return fmt.Errorf("%s: no territory name line to add the figures after", path)
	}
	out := append(append(slices.Clone(data[:loc[1]]), lines...), data[loc[1]:]...)
	return os.WriteFile(path, out, info.Mode().Perm())
}

var territoryNameLine = regexp.MustCompile(`(?m)^territory:\n(?:  .*\n)*?  name: .*\n`)
