package region

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/schemas"
)

// TestReleaseUpward: a region sums its territories' envelopes into one of
// its own, signed with its key; a region above receives it through the
// same intake as a territory's, and its sums are the sums of the
// territories' published values.
func TestReleaseUpward(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRegion(t)
	sent := map[string][]byte{
		"ATS-A": envelope(t, "ATS-A", r.keys["ATS-A"], "2025", countsA), // sex X is 2: suppressed
		"ATS-B": envelope(t, "ATS-B", r.keys["ATS-B"], "2025", countsB),
	}
	for code, raw := range sent {
		if _, err := r.in.Receive(ctx, raw); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
	}
	regionKey := newKey(t)
	src := federation.Source{Territory: "REG-TEST", SoftwareVersion: "v0.6.0-test"}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	up, err := ReleaseUpward(ctx, r.st, "2025", 0, src, regionKey, now)
	if err != nil {
		t.Fatal(err)
	}
	if !up.New || up.Parts != 2 || up.Cells != 4 {
		t.Fatalf("release upward: %+v", up)
	}
	var env federation.Envelope
	if err := json.Unmarshal(up.Envelope, &env); err != nil {
		t.Fatal(err)
	}
	if env.Level != federation.LevelRegion || env.Budget.RhoSpent != "0" || env.Noise.Mechanism != federation.MechanismAggregate {
		t.Errorf("header: level %q, ρ %s, mechanism %s", env.Level, env.Budget.RhoSpent, env.Noise.Mechanism)
	}
	// σ² of each part's breakdown cells and of its totals.
	var sigma2A, sigma2B, headA, headB string
	for _, p := range env.Parts {
		if p.RhoSpent != "3/4" || p.Mechanism != "discrete-gaussian" || p.Revision != 0 || len(p.SHA256) != 64 {
			t.Errorf("part %+v", p)
		}
		var te federation.Envelope
		if err := json.Unmarshal(sent[p.Territory], &te); err != nil {
			t.Fatal(err)
		}
		if te.Noise.Headline == nil || p.Sigma2 != te.Noise.Sigma2 || p.HeadlineSigma2 != te.Noise.Headline.Sigma2 {
			t.Errorf("part %s: σ² %s and %s, the territory's %+v", p.Territory, p.Sigma2, p.HeadlineSigma2, te.Noise)
		}
		if p.Territory == "ATS-A" {
			sigma2A, headA = p.Sigma2, p.HeadlineSigma2
		} else {
			sigma2B, headB = p.Sigma2, p.HeadlineSigma2
		}
	}
	for _, c := range env.Cells {
		sex := c.Breakdown["sex"]
		a, aOK := published(t, sent["ATS-A"], sex)
		b, bOK := published(t, sent["ATS-B"], sex)
		if sex == "" {
			a, aOK = publishedTotal(t, sent["ATS-A"])
			b, bOK = publishedTotal(t, sent["ATS-B"])
		}
		want, n := int64(0), 0
		for _, v := range []struct {
			v  int64
			ok bool
		}{{a, aOK}, {b, bOK}} {
			if v.ok {
				want += v.v
				n++
			}
		}
		if c.Value == nil || *c.Value != want || c.Contributors != n {
			t.Errorf("cell sex=%q: %+v, want the sum %d of %d territories", sex, c, want, n)
		}
		sa, sb := sigma2A, sigma2B
		if sex == "" { // a total: the headline tier
			sa, sb = headA, headB
		}
		wantSigma := sb
		if n == 2 {
			wantSigma = ratSum(t, sa, sb)
		}
		if c.Sigma2 != wantSigma {
			t.Errorf("cell sex=%q: σ² %s, want %s", sex, c.Sigma2, wantSigma)
		}
	}

	// Again: the same bytes, not a new envelope.
	again, err := ReleaseUpward(ctx, r.st, "2025", 0, src, regionKey, now.Add(time.Hour))
	if err != nil || again.New || string(again.Envelope) != string(up.Envelope) {
		t.Errorf("a second release of revision 0: new=%v, same bytes=%v, %v", again.New, string(again.Envelope) == string(up.Envelope), err)
	}
	if _, err := ReleaseUpward(ctx, r.st, "2025", 2, src, regionKey, now); err == nil || !strings.Contains(err.Error(), "revision 1 was never made") {
		t.Errorf("revision 2 before 1: %v", err)
	}
	if _, err := ReleaseUpward(ctx, r.st, "2024", 0, src, regionKey, now); !errors.Is(err, ErrNothingToSend) {
		t.Errorf("an epoch nobody sent: %v", err)
	}

	// The level above enrols the region like a territory and takes its
	// envelope through the same intake.
	above := newRegion(t)
	if _, err := EnrolKey(ctx, above.st, "test", "REG-TEST", "Regione di prova", pubOf(regionKey)); err != nil {
		t.Fatal(err)
	}
	if rc, err := above.in.Receive(ctx, up.Envelope); err != nil || rc.Outcome != Accepted {
		t.Fatalf("the level above: %+v %v", rc, err)
	}
	agg, err := Aggregate(ctx, above.st, "caseload", "2025", nil)
	if err != nil || len(agg.Sums) != 1 {
		t.Fatalf("aggregate above: %+v %v", agg, err)
	}
	a, _ := publishedTotal(t, sent["ATS-A"])
	b, _ := publishedTotal(t, sent["ATS-B"])
	if agg.Sums[0].Value != a+b {
		t.Errorf("the total above is %d, want %d", agg.Sums[0].Value, a+b)
	}

	// What a region's envelope may not claim.
	for name, fn := range map[string]func(e *federation.Envelope){
		"ρ spent by sums": func(e *federation.Envelope) {
			e.Noise = federation.Noise{Mechanism: "discrete-gaussian", Sigma2: "2", Rho: "1/4", Tables: 1}
			e.Budget.RhoSpent, e.Budget.RhoCumulative, e.Budget.RhoCap = "1/4", "1/4", "1"
		},
		"more contributors":      func(e *federation.Envelope) { e.Cells[0].Contributors = 3 },
		"a territory twice":      func(e *federation.Envelope) { e.Parts[1].Territory = e.Parts[0].Territory },
		"a territory's contribs": func(e *federation.Envelope) { e.Level = ""; e.Parts = nil },
	} {
		var e federation.Envelope
		if err := json.Unmarshal(up.Envelope, &e); err != nil {
			t.Fatal(err)
		}
		fn(&e)
		raw := forge(t, &e, regionKey)
		if _, err := above.in.Receive(ctx, raw); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want refused as invalid", name, err)
		}
	}
}

func publishedTotal(t *testing.T, raw []byte) (int64, bool) {
	t.Helper()
	var e federation.Envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.Cells {
		if len(c.Breakdown) == 0 {
			if c.Value == nil {
				return 0, false
			}
			return *c.Value, true
		}
	}
	t.Fatal("no total")
	return 0, false
}

func ratSum(t *testing.T, a, b string) string {
	t.Helper()
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		t.Fatalf("not rationals: %q %q", a, b)
	}
	return x.Add(x, y).RatString()
}

// forge signs e as an attacker holding the key would: without the checks
// federation.Sign makes before signing.
func forge(t *testing.T, e *federation.Envelope, key ed25519.PrivateKey) []byte {
	t.Helper()
	e.Signature = nil
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := schemas.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := schemas.AppendCanonical(nil, doc)
	if err != nil {
		t.Fatal(err)
	}
	e.Signature = &federation.Signature{Algorithm: "Ed25519", KeyID: federation.KeyID(pubOf(key)), Value: base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))}
	if raw, err = json.Marshal(e); err != nil {
		t.Fatal(err)
	}
	if doc, err = schemas.Decode(raw); err != nil {
		t.Fatal(err)
	}
	out, err := schemas.AppendCanonical(nil, doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rateEnvelope releases referral-acceptance totals (numerator,
// denominator) and a caseload cell of the denominator's size.
func rateEnvelope(t *testing.T, territory string, key ed25519.PrivateKey, num, den int64) []byte {
	t.Helper()
	return envelopeOf(t, territory, key, "2025", []disclosure.Cell{
		{Indicator: "referral-acceptance", Version: "1", Measure: "numerator", Count: num, Partition: "rate", Within: "denominator"},
		{Indicator: "referral-acceptance", Version: "1", Measure: "denominator", Count: den, Partition: "rate"},
		{Indicator: "caseload", Version: "1", Measure: "households", Breakdown: map[string]string{"sex": "F"}, Count: den},
	})
}

// TestAggregateRate: the region's rate of a ratio indicator stands on the
// territories that published both measures, with the 95% interval of
// disclosure.Rate for the sum of their noise (a rate released as one
// partition table, the totals' σ²); small sums show as "<10".
func TestAggregateRate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRegion(t)
	vals := map[string][2]int64{"ATS-A": {60, 100}, "ATS-B": {30, 50}, "ATS-C": {2, 5}} // C's numerator is under the threshold
	pub := map[string]map[string]*int64{}
	var sigma2 string
	for code, v := range vals {
		raw := rateEnvelope(t, code, r.keys[code], v[0], v[1])
		if _, err := r.in.Receive(ctx, raw); err != nil {
			t.Fatal(err)
		}
		var e federation.Envelope
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		if e.Noise.Headline == nil || e.Noise.Rates != federation.RatesPartition {
			t.Fatalf("%s: noise %+v: want a headline tier and rates as partitions", code, e.Noise)
		}
		sigma2 = e.Noise.Headline.Sigma2 // the rate is a total
		pub[code] = map[string]*int64{}
		for _, c := range e.Cells {
			pub[code][c.Indicator+"/"+c.Measure] = c.Value
		}
	}
	if pub["ATS-C"]["referral-acceptance/numerator"] != nil {
		t.Fatal("ATS-C's numerator of 2 was published")
	}
	agg, err := Aggregate(ctx, r.st, "referral-acceptance", "2025", nil)
	if err != nil || len(agg.Rates) != 1 {
		t.Fatalf("aggregate: %+v %v", agg, err)
	}
	rate := agg.Rates[0]
	num := *pub["ATS-A"]["referral-acceptance/numerator"] + *pub["ATS-B"]["referral-acceptance/numerator"]
	den := *pub["ATS-A"]["referral-acceptance/denominator"] + *pub["ATS-B"]["referral-acceptance/denominator"]
	if rate.Numerator != num || rate.Denominator != den || rate.CoverageText != "2 of 3 territories" {
		t.Errorf("rate over %d/%d (%s), want %d/%d over A and B", rate.Numerator, rate.Denominator, rate.CoverageText, num, den)
	}
	s2, _ := new(big.Rat).SetString(sigma2)
	v, err := disclosure.Variance(s2)
	if err != nil {
		t.Fatal(err)
	}
	// Two territories, each a partition: Var(num) = v, Var(den) = 2v, Cov = v.
	want := disclosure.Rate(num, den, disclosure.PartitionRateNoise(v).Add(disclosure.PartitionRateNoise(v)), 20)
	if !rate.Published || rate.Rate != want.Rate || rate.Low != want.Low || rate.High != want.High || !(rate.Low < rate.Rate && rate.Rate < rate.High) {
		t.Errorf("rate %+v, want %+v", rate, want)
	}
	for _, s := range agg.Sums {
		if s.Measure == "denominator" && (s.Coverage.Contributing != 3 || s.Display != fmt.Sprint(s.Value)) {
			t.Errorf("denominator sum %+v", s)
		}
	}

	caseload, err := Aggregate(ctx, r.st, "caseload", "2025", map[string]string{"sex": "F"})
	if err != nil || len(caseload.Sums) != 1 || len(caseload.Rates) != 0 {
		t.Fatalf("caseload: %+v %v", caseload, err)
	}
	if s := caseload.Sums[0]; s.Display != fmt.Sprint(s.Value) || s.Value < 10 {
		t.Errorf("caseload F over three territories: %+v", s)
	}

	// A sum under display_below (10) shows as "<10": one territory's 3
	// (σ² = 2 here, three tables at ρ = 3/4: P[noise ≥ 7] < 1e-6).
	small := newRegion(t)
	if _, err := small.in.Receive(ctx, rateEnvelope(t, "ATS-A", small.keys["ATS-A"], 3, 3)); err != nil {
		t.Fatal(err)
	}
	caseload, err = Aggregate(ctx, small.st, "caseload", "2025", map[string]string{"sex": "F"})
	if err != nil || len(caseload.Sums) != 1 || caseload.Sums[0].Display != "<10" {
		t.Errorf("a small sum: %+v %v", caseload, err)
	}
}
