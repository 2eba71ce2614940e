package identity_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/identity"
)

func sequentialKey() identity.Key {
	var k identity.Key
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	seq := sequentialKey()
	seqHex := hex.EncodeToString(seq[:])
	raw := bytes.Repeat([]byte{0xfe, 0x20}, 16) // raw bytes that include spaces
	var rawKey identity.Key
	copy(rawKey[:], raw)
	tests := map[string]struct {
		in      []byte
		want    identity.Key
		wantErr string
	}{
		"64 hex":                {in: []byte(seqHex), want: sequentialKey()},
		"64 hex, new line":      {in: []byte(seqHex + "\n"), want: sequentialKey()},
		"64 hex, padded":        {in: []byte("  " + seqHex + "\r\n"), want: sequentialKey()},
		"64 hex, upper case":    {in: []byte(strings.ToUpper(seqHex)), want: sequentialKey()},
		"32 raw bytes":          {in: raw, want: rawKey},
		"32 hex characters":     {in: []byte(seqHex[:32]), wantErr: "identity key: 32 hexadecimal characters is only 16 bytes"},
		"64 characters not hex": {in: []byte(seqHex[:63] + "g"), wantErr: "identity key: 64 characters but not all hexadecimal"},
		"31 bytes":              {in: raw[:31], wantErr: "identity key: got 31 bytes"},
		"33 bytes":              {in: append(bytes.Clone(raw), 'x'), wantErr: "identity key: got 33 bytes"},
		"empty":                 {in: nil, wantErr: "identity key: got 0 bytes"},
		"all zeros, raw":        {in: make([]byte, 32), wantErr: "identity key: the key is all zeros"},
		"all zeros, hex":        {in: []byte(strings.Repeat("0", 64)), wantErr: "identity key: the key is all zeros"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := identity.ParseKey(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tc.wantErr)
				}
				if len(tc.in) >= 8 && strings.Contains(err.Error(), string(tc.in[:8])) {
					t.Errorf("error shows key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseKey gave a different key") // not printed: keys are redacted
			}
		})
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	a, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a == (identity.Key{}) {
		t.Fatal("NewKey is not random")
	}
	back, err := identity.ParseKey([]byte(hex.EncodeToString(a[:])))
	if err != nil || back != a {
		t.Fatalf("hex round trip: %v", err)
	}
	if a.Fingerprint() == b.Fingerprint() || len(a.Fingerprint()) != 8 || a.Fingerprint() != back.Fingerprint() {
		t.Errorf("fingerprints %s %s %s", a.Fingerprint(), b.Fingerprint(), back.Fingerprint())
	}
}

// TestDigestGolden pins the digest: person ids in existing stores depend on
// it never changing. The values were computed with Python's hmac module.
func TestDigestGolden(t *testing.T) {
	t.Parallel()
	k := sequentialKey()
	tests := map[string]struct {
		in   string
		want string
	}{
		"codice fiscale": {"rss mra 85t10 a562s", "d8b71d5e4cce7727ac5760e9769f693081e8102478db545c0035f527f80443b0"},
		"provisional":    {"00743110157", "0787e5cf4a4595f4e772552ef82633b4e02cbf0fbcb4d73a1e663cb5c9385e3c"},
		"STP":            {"STP1200010000001", "325dbc8f78228cbe3ff7e9c1160cfc8faa59e669eff2b354a94a4239b89e227d"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := identity.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, hex.EncodeToString(k.Digest(c))); diff != "" {
				t.Errorf("Digest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDigestSeparates(t *testing.T) {
	t.Parallel()
	k1, k2 := sequentialKey(), sequentialKey()
	k2[31] ^= 1
	cf, err := identity.Parse("RSSMRA85T10A562S")
	if err != nil {
		t.Fatal(err)
	}
	omo, err := identity.Parse("RSSMRA85T10A56NH")
	if err != nil {
		t.Fatal(err)
	}
	if d := k1.Digest(cf); len(d) != 32 {
		t.Fatalf("digest has %d bytes", len(d))
	}
	if bytes.Equal(k1.Digest(cf), k2.Digest(cf)) {
		t.Error("different keys give the same digest")
	}
	if !bytes.Equal(k1.Digest(cf), k1.Digest(cf)) {
		t.Error("digest is not deterministic")
	}
	if bytes.Equal(k1.Digest(cf), k1.Digest(omo)) {
		t.Error("an omocodic code digests like its base code")
	}
	// The same value under two kinds gives two digests.
	for _, pair := range [][2]identity.Kind{
		{identity.KindCF, identity.KindProvisional},
		{identity.KindSTP, identity.KindENI},
	} {
		a := identity.Code{Kind: pair[0], Value: "X1234567890"}
		b := identity.Code{Kind: pair[1], Value: "X1234567890"}
		if bytes.Equal(k1.Digest(a), k1.Digest(b)) {
			t.Errorf("%s and %s digest the same value alike", pair[0], pair[1])
		}
	}
}
