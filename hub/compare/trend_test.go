package compare

import (
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

func TestRollingFourQuarters(t *testing.T) {
	q := func(epoch string, num, den int64) Value {
		return Value{Territory: "A", Epoch: epoch, Num: num, Den: den, Noise: disclosure.PartitionRateNoise(2), MinRateDenominator: 20}
	}
	// 2023-Q3 … 2025-Q4 with 2024-Q4 missing, given out of order.
	values := []Value{
		q("2025-Q4", 14, 40),
		q("2023-Q3", 10, 40), q("2023-Q4", 12, 40), q("2024-Q1", 8, 30), q("2024-Q2", 10, 50),
		q("2024-Q3", 20, 60),
		q("2025-Q1", 9, 30), q("2025-Q2", 11, 30), q("2025-Q3", 6, 20),
	}
	got, err := RollingFourQuarters(values)
	if err != nil {
		t.Fatal(err)
	}
	type point struct {
		epoch, from string
		num, den    int64
	}
	want := []point{
		{"2024-Q2", "2023-Q3", 40, 160}, // 10+12+8+10, 40+40+30+50
		{"2024-Q3", "2023-Q4", 50, 180}, // 12+8+10+20, 40+30+50+60
		{"2025-Q4", "2025-Q1", 40, 120}, // the first window after the gap
	}
	if len(got.Points) != len(want) {
		t.Fatalf("%d points, want %d: %+v", len(got.Points), len(want), got.Points)
	}
	for i, w := range want {
		p := got.Points[i]
		if p.Epoch != w.epoch || p.From != w.from || p.Numerator == nil || *p.Numerator != w.num || *p.Denominator != w.den {
			t.Errorf("point %d: %s…%s %v/%v, want %s…%s %d/%d", i, p.From, p.Epoch, p.Numerator, p.Denominator, w.from, w.epoch, w.num, w.den)
			continue
		}
		// Four quarters' noise of cell variance 2 is that of cell variance 8.
		want := disclosure.Rate(w.num, w.den, disclosure.PartitionRateNoise(8), 20)
		near(t, w.epoch+" rate", p.Rate.Value, float64(w.num)/float64(w.den))
		near(t, w.epoch+" low", p.Rate.Low, want.Low)
		near(t, w.epoch+" high", p.Rate.High, want.High)
	}
	if len(got.Gaps) != 1 || got.Gaps[0] != (Gap{Epoch: "2024-Q4", Reason: ReasonMissing}) {
		t.Errorf("gaps %+v, want 2024-Q4 missing", got.Gaps)
	}
	if got.Territory != "A" {
		t.Errorf("territory %q", got.Territory)
	}
}

func TestRollingFourQuartersGapsAndLimits(t *testing.T) {
	v := func(epoch string, num, den int64) Value {
		return Value{Territory: "A", Epoch: epoch, Num: num, Den: den, MinRateDenominator: 20}
	}
	t.Run("suppressed quarter", func(t *testing.T) {
		s := v("2025-Q2", 0, 0)
		s.Suppressed = true
		got, err := RollingFourQuarters([]Value{v("2025-Q1", 1, 5), s, v("2025-Q3", 1, 5), v("2025-Q4", 1, 5), v("2026-Q1", 1, 5)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Points) != 0 || len(got.Gaps) != 1 || got.Gaps[0].Reason != ReasonSuppressed {
			t.Errorf("points %+v, gaps %+v", got.Points, got.Gaps)
		}
	})
	t.Run("small window", func(t *testing.T) {
		// 4 × 4 = 16 households: under the minimum of 20, no rate and no counts.
		got, err := RollingFourQuarters([]Value{v("2025-Q1", 1, 4), v("2025-Q2", 1, 4), v("2025-Q3", 1, 4), v("2025-Q4", 1, 4)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Points) != 1 || got.Points[0].Rate.Published || got.Points[0].Rate.Reason != ReasonDenominatorBelowMinimum || got.Points[0].Numerator != nil {
			t.Errorf("points %+v", got.Points)
		}
	})
	t.Run("unknown noise", func(t *testing.T) {
		u := v("2025-Q3", 5, 30)
		u.Noise = disclosure.RateNoise{Num: -1, Den: -1}
		got, err := RollingFourQuarters([]Value{v("2025-Q1", 5, 30), v("2025-Q2", 5, 30), u, v("2025-Q4", 5, 30)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Points) != 1 || got.Points[0].Rate.Reason != ReasonNoiseUnknown {
			t.Errorf("points %+v", got.Points)
		}
	})
	t.Run("three quarters", func(t *testing.T) {
		got, err := RollingFourQuarters([]Value{v("2025-Q1", 5, 30), v("2025-Q2", 5, 30), v("2025-Q3", 5, 30)})
		if err != nil || len(got.Points) != 0 || len(got.Gaps) != 0 {
			t.Errorf("%+v, %v", got, err)
		}
	})
	for name, tc := range map[string]struct {
		values []Value
		want   string
	}{
		"annual":          {[]Value{v("2025", 1, 5)}, "annual"},
		"two territories": {[]Value{v("2025-Q1", 1, 5), {Territory: "B", Epoch: "2025-Q2"}}, "one territory at a time"},
		"duplicate":       {[]Value{v("2025-Q1", 1, 5), v("2025-Q1", 2, 5)}, "two values for 2025-Q1"},
		"bad epoch":       {[]Value{v("2025-Q5", 1, 5)}, "YYYY-Q1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := RollingFourQuarters(tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
