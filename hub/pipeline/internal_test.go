package pipeline

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

func TestBatchMessageRoundTrip(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		source string
		batch  sdk.Batch
	}{
		"records and a cursor": {"anagrafe", sdk.Batch{Records: [][]byte{[]byte(`{"a":1}`), []byte(`{}`), bytes.Repeat([]byte("x"), 70000)}, Cursor: []byte(`{"files":[]}`)}},
		"no records":           {"cpi", sdk.Batch{Records: [][]byte{}, Cursor: []byte("42")}},
		"no cursor":            {"sds", sdk.Batch{Records: [][]byte{[]byte(`{}`)}, Cursor: []byte{}}},
		"an empty record":      {"sds", sdk.Batch{Records: [][]byte{{}}, Cursor: []byte{}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			payload := encodeBatch(tc.source, tc.batch)
			src, got, err := decodeBatch(payload)
			if err != nil {
				t.Fatal(err)
			}
			if src != tc.source {
				t.Errorf("source %q, want %q", src, tc.source)
			}
			if diff := cmp.Diff(tc.batch, got); diff != "" {
				t.Errorf("batch (-want +got):\n%s", diff)
			}
			// Every cut of the payload is refused, never misread.
			for n := 0; n < len(payload); n += 1 + len(payload)/50 {
				if _, _, err := decodeBatch(payload[:n]); err == nil {
					t.Errorf("a payload cut at %d of %d bytes was accepted", n, len(payload))
				}
			}
			if _, _, err := decodeBatch(append(payload, 0)); err == nil {
				t.Errorf("a payload with a trailing byte was accepted")
			}
		})
	}
}

func TestFloodWindow(t *testing.T) {
	t.Parallel()
	f := Flood{Window: 10, MinRecords: 4, Threshold: 0.2, MaxAge: time.Minute}.withDefaults()
	w := newWindow(f.Window)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(at time.Time, outcomes string) {
		for _, c := range outcomes {
			w.add(at, c == 'x')
		}
	}
	add(t0, "xxx")
	if v := f.verdict(w, t0); v != "" {
		t.Errorf("3 of 3, under MinRecords: %q", v)
	}
	add(t0, ".")
	if v := f.verdict(w, t0); v == "" || w.nBad != 3 || w.n != 4 {
		t.Errorf("3 of 4: %q (%d/%d)", v, w.nBad, w.n)
	}
	add(t0.Add(30*time.Second), "........") // 12 added, the window keeps 10: the first two x drop out
	if w.n != 10 || w.nBad != 1 {
		t.Errorf("after wrapping: %d bad of %d, want 1 of 10", w.nBad, w.n)
	}
	if v := f.verdict(w, t0.Add(30*time.Second)); v != "" {
		t.Errorf("1 of 10 is 10%%: %q", v)
	}
	add(t0.Add(30*time.Second), "xx")
	if v := f.verdict(w, t0.Add(30*time.Second)); v != "" {
		t.Errorf("2 of 10 is exactly 20%%, not more: %q", v)
	}
	add(t0.Add(30*time.Second), "x")
	if v := f.verdict(w, t0.Add(30*time.Second)); v != "3 of the last 10 records went to quarantine (more than 20%): check the connector's mapping and the source's data (snodo quarantine list)" {
		t.Errorf("3 of 10: %q", v)
	}
	// The records of t0 age out; those of t0+30s stay.
	if v := f.verdict(w, t0.Add(75*time.Second)); w.n != 10 || v == "" {
		t.Errorf("nothing is older than a minute yet: %d held, %q", w.n, v)
	}
	if v := f.verdict(w, t0.Add(2*time.Minute)); w.n != 0 || v != "" {
		t.Errorf("everything aged out: %d held, %q", w.n, v)
	}
	never := Flood{Threshold: -1}.withDefaults()
	add(t0, "xxxxxxxxxx")
	if v := never.verdict(w, t0); v != "" {
		t.Errorf("a negative threshold degraded: %q", v)
	}
}

func TestMasking(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ in, want string }{
		"plain pointer":          {"/members/0/person/identifiers/cf", "/members/0/person/identifiers/cf"},
		"a codice fiscale key":   {"/extensions/RSSMRA85T10A562S/x", "/extensions/****************/x"},
		"an invalid one too":     {"/extensions/BNCLCU58S42D612X", "/extensions/****************"},
		"a provisional code key": {"/extensions/48021753016", "/extensions/***********"},
		"a record id key":        {"/extensions/ANAG-2024-000731", "/extensions/ANAG-2024-000731"},
		"a 16-letter word":       {"/extensions/pseudonymisations", "/extensions/pseudonymisations"},
		"root":                   {"", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := maskPointer(tc.in); got != tc.want {
				t.Errorf("maskPointer(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	ids := map[string]bool{
		"RSSMRA85T10A562S":    true,
		"rss-mra-85t10-a562s": true,
		"BNCLCU58S42D612X":    true, // a wrong check letter is still a codice fiscale's shape
		"STP0480000012345":    true,
		"ANAG-2024-000731":    false,
		"48021753016":         false, // numeric record ids of 11 digits are common
		"VOL-0000001":         false,
	}
	for id, want := range ids {
		if got := looksLikeIdentifier(id); got != want {
			t.Errorf("looksLikeIdentifier(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestContainsIdentifier: codes in extensions are found on their own (also
// typed with separators) and as words of longer text, never inside longer
// words, and ordinary values are left alone.
func TestContainsIdentifier(t *testing.T) {
	for s, want := range map[string]bool{
		"RSSMRA85T10A562S":    true,
		"rss mra 85t10 a562s": true,
		"segnalata da rssmra85t10a562s il 3/2, richiamare": true,
		"codice:RSSMRA85T10A562S;":                         true,
		"ENI0480000012345 in attesa":                       true,
		"XRSSMRA85T10A562S":                                false, // a longer word
		"RSSMRA85T10A562S_2":                               false,
		"ABCDEFGHIJKLMNOP e altro testo":                   false,
		"SRV-001-0002,SRV-003-0004,SRV-005-0006,SRV-007":   false,
		"": false,
	} {
		if got := containsIdentifier(s); got != want {
			t.Errorf("containsIdentifier(%q) = %v, want %v", s, got, want)
		}
	}
}
