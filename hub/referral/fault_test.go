package referral_test

import (
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
)

// TestFaultTargetDownForDays proves that a referral whose target system is
// down for five days waits, pending, with the failure noted: the hub keeps
// trying, never more than the retry cap (10 minutes, +20 % jitter) apart,
// so it arrives soon after the system is back; the sealed identity is kept
// all that time (the retention counts from the delivery); and once the
// system answers, it gets the referral exactly once, however long the hub
// goes on running.
func TestFaultTargetDownForDays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ids := map[string]string{"cf": cf}
	f.store("consent", "comune", "CONS-1", person, ids, consentBody(orgCPI))
	f.store("referral", "comune", "REF-9", person, ids, referralBody("REF-9", "requested"))
	if v := f.view("comune", "REF-9"); v.Delivery != store.DeliveryPending {
		t.Fatalf("delivery %s, want pending", v.Delivery)
	}

	// The engine's loop calls Deliver every few seconds; here once a
	// simulated minute, which is finer than the retry cap.
	const step, outage = time.Minute, 5 * 24 * time.Hour
	maxGap := time.Duration(float64(store.RetryMax)*1.2) + step
	cpi := &system{down: true}
	lastAttempt, attempts := f.clock.now(), 0
	for elapsed := time.Duration(0); elapsed < outage; elapsed += step {
		f.clock.add(step)
		n, err := f.e.Deliver(f.ctx, f.st, cpi)
		if err != nil || n != 0 {
			t.Fatalf("after %v down: Deliver %d, %v", elapsed, n, err)
		}
		if cpi.attempts > attempts {
			attempts = cpi.attempts
			lastAttempt = f.clock.now()
		} else if gap := f.clock.now().Sub(lastAttempt); gap > maxGap {
			t.Fatalf("after %v down: no attempt for %v, more than the cap %v", elapsed, gap, maxGap)
		}
		if elapsed%(24*time.Hour) == 0 {
			if n, err := f.st.PurgeEnvelopes(f.ctx, f.clock.now()); err != nil || n != 0 {
				t.Fatalf("after %v down: %d envelopes purged (%v): a referral not yet delivered keeps its identity", elapsed, n, err)
			}
		}
	}
	v := f.view("comune", "REF-9")
	if v.Delivery != store.DeliveryPending || v.DeliveryNote == "" {
		t.Fatalf("after five days down: delivery %s, note %q; want pending with the failure noted", v.Delivery, v.DeliveryNote)
	}
	if perDay := float64(attempts) / 5; perDay < 24*60/(maxGap.Minutes()) {
		t.Fatalf("%d attempts in five days: fewer than one per %v", attempts, maxGap)
	}
	t.Logf("%d attempts in five days down", attempts)

	// Back up: delivered within one cap, once, and never again.
	cpi.down = false
	delivered := 0
	for elapsed := time.Duration(0); elapsed < 2*24*time.Hour; elapsed += step {
		f.clock.add(step)
		n, err := f.e.Deliver(f.ctx, f.st, cpi)
		if err != nil {
			t.Fatal(err)
		}
		if delivered += n; delivered == 0 && elapsed > maxGap {
			t.Fatalf("not delivered %v after the system came back", elapsed)
		}
	}
	if delivered != 1 || len(cpi.got) != 1 {
		t.Fatalf("delivered %d times, the system holds %d copies; want once", delivered, len(cpi.got))
	}
	if v := f.view("comune", "REF-9"); v.Delivery != store.DeliveryDelivered {
		t.Fatalf("after the system came back: delivery %s", v.Delivery)
	}
}
