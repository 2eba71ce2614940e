package identity_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

func cfEvenValue(c byte) int {
	if c >= '0' && c <= '9' {
		return int(c - '0')
	}
	return int(c - 'A')
}

// withCheck appends the check letter to the first 15 characters of a
// codice fiscale.
func withCheck(t testing.TB, first15 string) string {
	t.Helper()
	if len(first15) != 15 {
		t.Fatalf("withCheck: want 15 characters, got %d", len(first15))
	}
	// The odd-position values as the tax agency publishes them, written
	// out independently of the package's implementation.
	oddValues := map[byte]int{
		'0': 1, '1': 0, '2': 5, '3': 7, '4': 9, '5': 13, '6': 15, '7': 17, '8': 19, '9': 21,
		'A': 1, 'B': 0, 'C': 5, 'D': 7, 'E': 9, 'F': 13, 'G': 15, 'H': 17, 'I': 19, 'J': 21,
		'K': 2, 'L': 4, 'M': 18, 'N': 20, 'O': 11, 'P': 3, 'Q': 6, 'R': 8, 'S': 12, 'T': 14,
		'U': 16, 'V': 10, 'W': 22, 'X': 25, 'Y': 24, 'Z': 23,
	}
	sum := 0
	for i := 0; i < 15; i++ {
		if (i+1)%2 == 1 {
			v, ok := oddValues[first15[i]]
			if !ok {
				t.Fatalf("withCheck: character %d is not a letter or digit", i+1)
			}
			sum += v
		} else {
			sum += cfEvenValue(first15[i])
		}
	}
	return first15 + string(rune('A'+sum%26))
}

// withProvisionalCheck appends the check digit to 10 digits.
func withProvisionalCheck(t testing.TB, first10 string) string {
	t.Helper()
	if len(first10) != 10 {
		t.Fatalf("withProvisionalCheck: want 10 digits, got %d", len(first10))
	}
	sum := 0
	for i := 0; i < 10; i++ {
		d, err := strconv.Atoi(first10[i : i+1])
		if err != nil {
			t.Fatalf("withProvisionalCheck: %v", err)
		}
		if (i+1)%2 == 0 {
			d *= 2
			d = d/10 + d%10
		}
		sum += d
	}
	return first10 + strconv.Itoa((10-sum%10)%10)
}

// places is a small PlaceLookup over real entries of comuni.json and
// countries.json.
func places(code string) (string, bool) {
	name, ok := map[string]string{
		"A562": "San Giuliano Terme",
		"H501": "Roma",
		"F205": "Milano",
		"L219": "Torino",
		"Z330": "Marocco",
		"Z129": "Romania",
		"Z404": "Stati Uniti D'America",
	}[code]
	return name, ok
}

// memDirectory is an in-memory test double of the storage interface that
// hub/store implements on SQLite (and tests there).
type memDirectory struct {
	mu      sync.Mutex
	persons map[string]string // digest → person id
	calls   int
}

var _ identity.Directory = (*memDirectory)(nil)

func newMemDirectory() *memDirectory {
	return &memDirectory{persons: make(map[string]string)}
}

func (d *memDirectory) ResolvePerson(ctx context.Context, digest []byte, kind identity.Kind, newID string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if id, ok := d.persons[string(digest)]; ok {
		return id, false, nil
	}
	d.persons[string(bytes.Clone(digest))] = newID
	return newID, true, nil
}

func (d *memDirectory) LinkIdentifier(ctx context.Context, personID string, digest []byte, kind identity.Kind) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if id, ok := d.persons[string(digest)]; ok {
		if id != personID {
			return fmt.Errorf("digest of a %s: %w", kind, identity.ErrLinkedElsewhere)
		}
		return nil
	}
	d.persons[string(bytes.Clone(digest))] = personID
	return nil
}

func (d *memDirectory) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func (d *memDirectory) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.persons)
}
