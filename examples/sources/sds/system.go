package sds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	_ "time/tzdata" // Europe/Rome without the host's zoneinfo

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// Options configure a System.
type Options struct {
	// Seed and Households generate the population when Population is nil.
	Seed       int64
	Households int
	// Population is the shared population, when the caller has it.
	Population *population.Population
	// Dir is the system's folder: the export goes to Dir/export, referrals
	// arrive in Dir/inbox. Both are created.
	Dir string
}

// Export file kinds, in the order a night's files are meant to be read.
var Kinds = []string{"assistiti", "accessi_pua", "valutazioni_uvm", "servizi", "stati_segnalazioni"}

// ErrOutage is returned by the controls that touch the folders while the
// system is down.
var ErrOutage = errors.New("sds: the system is down (outage)")

// System is the simulated SDS: its data, its export folder and its inbox.
// It is safe for concurrent use.
type System struct {
	mu     sync.Mutex
	pop    *population.Population
	dir    string
	export string
	inbox  string
	clock  time.Time
	night  time.Time // the date of the next night's export
	outage bool

	assistiti map[string]*Assistito
	known     map[string]string // id_assistito by code
	accessi   int

	refs     map[string]*Segnalazione
	order    []string
	byKey    map[string]string // inbox key → referral id
	byExt    map[string]string // fonte \x00 id_esterno → referral id
	received int
	sent     int
	refusals []string

	pendingAssistiti   [][]string
	pendingAccessi     [][]string
	pendingValutazioni [][]string
	pendingServizi     [][]string
	pendingStati       [][]string
}

// Start is the simulated clock's start: population.AsOf at 08:00 UTC.
func Start() time.Time { return population.AsOf().Add(8 * time.Hour) }

// New derives the system's data from the population and creates its
// folders. Nothing is exported until WriteNight.
func New(opts Options) (*System, error) {
	if opts.Dir == "" {
		return nil, errors.New("sds: Options.Dir is required")
	}
	pop := opts.Population
	if pop == nil {
		pop = population.Generate(opts.Seed, opts.Households)
	}
	s := &System{
		pop: pop, dir: opts.Dir,
		export: filepath.Join(opts.Dir, "export"), inbox: filepath.Join(opts.Dir, "inbox"),
		clock: Start(), night: population.AsOf(),
		assistiti: map[string]*Assistito{}, known: map[string]string{},
		refs: map[string]*Segnalazione{}, byKey: map[string]string{}, byExt: map[string]string{},
	}
	for _, d := range []string{s.export, filepath.Join(s.inbox, InboxProcessed), filepath.Join(s.inbox, InboxRejected)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("sds: create folder: %w", err)
		}
	}
	d := generate(pop)
	for _, a := range d.assistiti {
		s.assistiti[a.ID] = a
		for _, c := range []string{a.Codici.CF, a.Codici.Provvisorio, a.Codici.STP} {
			if c != "" {
				s.known[c] = a.ID
			}
		}
		s.pendingAssistiti = append(s.pendingAssistiti, a.row())
	}
	for _, a := range d.accessi {
		s.pendingAccessi = append(s.pendingAccessi, a.row())
	}
	s.accessi = len(d.accessi)
	for _, v := range d.valutazioni {
		s.pendingValutazioni = append(s.pendingValutazioni, v.row())
	}
	for _, x := range d.servizi {
		s.pendingServizi = append(s.pendingServizi, x.row())
	}
	for _, seg := range d.inviate {
		s.refs[seg.ID] = seg
		s.order = append(s.order, seg.ID)
		for _, c := range seg.Storia[1:] {
			s.pendingStati = append(s.pendingStati, seg.statoRow(c))
		}
	}
	s.sent = len(d.inviate)
	return s, nil
}

// ExportDir and InboxDir are the system's two folders.
func (s *System) ExportDir() string { return s.export }

// InboxDir is the folder where referrals and status updates are dropped.
func (s *System) InboxDir() string { return s.inbox }

// Clock returns the simulated time.
func (s *System) Clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock
}

// NextNight returns the date of the next export.
func (s *System) NextNight() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.night
}

// tick advances the simulated clock by a minute and returns it.
func (s *System) tick() time.Time {
	s.clock = s.clock.Add(time.Minute)
	return s.clock
}

// FileName returns the name of a night's export file of a kind.
func FileName(kind string, night time.Time) string {
	return kind + "_" + night.Format("20060102") + ".csv"
}

// WriteNight writes the next night's export — one file of each of Kinds,
// named with the date, holding the rows created or changed since the
// previous export (header only when none) — atomically, and moves the
// clock to the next morning. The first night holds everything up to
// population.AsOf. It returns the night's date.
func (s *System) WriteNight() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outage {
		return time.Time{}, ErrOutage
	}
	night := s.night
	files := []struct {
		header []string
		rows   *[][]string
	}{
		{HeaderAssistiti, &s.pendingAssistiti},
		{HeaderAccessi, &s.pendingAccessi},
		{HeaderValutazioni, &s.pendingValutazioni},
		{HeaderServizi, &s.pendingServizi},
		{HeaderStati, &s.pendingStati},
	}
	for i, f := range files {
		data, err := encodeCSV(f.header, *f.rows)
		if err != nil {
			return time.Time{}, fmt.Errorf("sds: encode %s: %w", Kinds[i], err)
		}
		if err := writeAtomic(s.export, FileName(Kinds[i], night), data); err != nil {
			return time.Time{}, fmt.Errorf("sds: write export: %w", err)
		}
	}
	for _, f := range files {
		*f.rows = nil
	}
	s.night = night.AddDate(0, 0, 1)
	if morning := s.night.Add(8 * time.Hour); s.clock.Before(morning) {
		s.clock = morning
	}
	return night, nil
}

// SetOutage takes the system's share down (true) or up: while down, the
// export and inbox folders are not there (renamed away) and WriteNight and
// ProcessInbox fail with ErrOutage.
func (s *System) SetOutage(down bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if down == s.outage {
		return nil
	}
	for _, d := range []string{s.export, s.inbox} {
		off := filepath.Join(filepath.Dir(d), ".offline-"+filepath.Base(d))
		from, to := d, off
		if !down {
			from, to = off, d
		}
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("sds: outage: %w", err)
		}
	}
	s.outage = down
	return nil
}

// SendReferral records a new PUA access of the person of the population
// with that index that ends with a referral to another organisation (dest,
// e.g. OrgComune or OrgCPI), with a referral-category code and an Italian
// priority of PriorityCodes. The access appears in the next night's
// accessi_pua file. It returns the referral id (INV-<year>-<n>).
func (s *System) SendReferral(person int, dest, categoria, priorita string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pop.Person(person)
	if p == nil || !p.In(population.SDS) {
		return "", fmt.Errorf("sds: person %d is not known to the SDS", person)
	}
	if !knownOrg(dest) || dest == OrgID {
		return "", fmt.Errorf("sds: unknown destination %q", dest)
	}
	if _, ok := PriorityCodes[priorita]; !ok {
		return "", fmt.Errorf("sds: unknown priorita %q", priorita)
	}
	if categoria == "" {
		return "", errors.New("sds: categoria is required")
	}
	at := s.tick()
	a := s.assistiti[p.LocalID(population.SDS)]
	s.accessi++
	s.sent++
	acc := &Accesso{
		ID: fmt.Sprintf("PUA-%d-%06d", at.Year(), s.accessi), IDAssistito: a.ID, Codici: a.Codici, Data: at,
		Canale: "sportello", Bisogno: "fragilita_sociale", Esito: "invio", EnteDestinatario: dest,
		IDSegnalazione: fmt.Sprintf("INV-%d-%05d", at.Year(), s.sent), Categoria: categoria, Priorita: priorita, Aggiornato: at,
	}
	seg := &Segnalazione{ID: acc.IDSegnalazione, Direzione: Inviata, Richiedente: OrgID, Destinatario: dest,
		IDAssistito: a.ID, Codici: a.Codici, Categoria: categoria, Priorita: priorita, Data: at}
	seg.change(Inviata, "", at, OrgID, Interna)
	s.refs[seg.ID] = seg
	s.order = append(s.order, seg.ID)
	s.pendingAccessi = append(s.pendingAccessi, acc.row())
	return seg.ID, nil
}

// Assistiti returns the ids of the people the SDS knows, sorted.
func (s *System) Assistiti() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.assistiti))
	for id := range s.assistiti {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
