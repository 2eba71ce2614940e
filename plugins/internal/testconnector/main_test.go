package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// TestAppendRecordIsWhatEncodingJSONGives keeps the hand-written encoder
// honest: its records are byte for byte those of json.Marshal.
func TestAppendRecordIsWhatEncodingJSONGives(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		n   int
		pad string
	}{
		"first":           {n: 0},
		"seven digits":    {n: 1234567},
		"more than seven": {n: 12345678},
		"padded":          {n: 42, pad: strings.Repeat("x", 724)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			set := settings{Source: "odv-2", Territory: "AB-1"}
			rec := map[string]any{
				"schema": volunteerSchema, "record_id": fmt.Sprintf("VOL-%07d", tc.n),
				"source": set.Source, "territory": set.Territory,
				"recorded_at":  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(tc.n) * time.Minute).Format(time.RFC3339),
				"pseudonym":    fmt.Sprintf("V%07d", tc.n),
				"organisation": map[string]any{"record_id": "ORG-ODV-1"},
			}
			if tc.pad != "" {
				rec["extensions"] = map[string]any{"padding": tc.pad}
			}
			want, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			got := appendRecord(nil, &set, tc.n, tc.pad)
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("record (-json.Marshal +appendRecord):\n%s", diff)
			}
		})
	}
}

func TestSizeIsTheRecordSize(t *testing.T) {
	t.Parallel()
	for _, size := range []int{300, 1024, 4096} {
		set := settings{Source: "odv", Territory: "AB", Records: 3, Size: size}
		raw, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		err = connector{}.Read(context.Background(), sdk.ReadRequest{Settings: sdk.NewSettings(raw, "")}, func(b sdk.Batch) error {
			for _, r := range b.Records {
				got = append(got, len(r))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{size, size, size}, got); diff != "" {
			t.Errorf("size %d: record lengths (-want +got):\n%s", size, diff)
		}
	}
}
