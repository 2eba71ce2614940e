package referral_test

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/referral"
	"github.com/snodo-hub/snodo/hub/store"
)

// timedSystem is a receiving system that notes when each Write arrived.
type timedSystem struct {
	mu  sync.Mutex
	got map[string]time.Time
}

func (s *timedSystem) Write(_ context.Context, connector, _, recordID string, record []byte) (string, error) {
	at := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(record) == 0 {
		panic("empty record delivered")
	}
	s.got[connector+" "+recordID] = at
	return "T-" + recordID, nil
}

// BenchmarkReferralDelivery measures, per referral, the time from the
// commit of the pipeline's transaction that stored it (the engine routes
// it there: consent checked, identity sealed, outbox message queued) to
// its delivery: "to-write" until the connector's Write is called (outbox
// read, envelope opened, document built), "delivered" until the delivery
// is committed (referral marked, envelope's retention set, audit entry).
// The store is a real SQLite file; the connector is the package tests'
// in-process writer, so the figure is the hub's own work, without a
// connector process's gRPC round trip (BenchmarkPluginStream measures
// that boundary) and without the poll interval of Engine.Run
// (referrals.delivery_interval in snodo.yaml), which adds up to one
// interval of waiting to every figure here. Deliver is called right after
// each store, as Run would on its next tick.
func BenchmarkReferralDelivery(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "snodo.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key, err := identity.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	e, err := referral.New(referral.Config{Key: key, Serves: map[string]string{orgComune: "comune", orgCPI: "cpi"}})
	if err != nil {
		b.Fatal(err)
	}
	put := func(schema, recordID, body string) {
		err := st.Write(ctx, func(tx *store.Tx) error {
			if _, err := tx.UpsertRecord(ctx, store.Record{Schema: schema, SchemaID: "https://snodo-hub.github.io/schemas/" + schema + "/1.0.0",
				Source: "comune", RecordID: recordID, Territory: "SDS-FI-NORDOVEST", Body: []byte(body), PersonID: person}); err != nil {
				return err
			}
			return e.Stored(ctx, tx, referral.Record{Schema: schema, Source: "comune", RecordID: recordID, Body: []byte(body), PersonID: person,
				Identifiers: map[string]string{"cf": cf}})
		})
		if err != nil {
			b.Fatalf("store %s %s: %v", schema, recordID, err)
		}
	}
	put("consent", "CONS-1", consentBody(orgCPI))
	sys := &timedSystem{got: map[string]time.Time{}}
	var toWrite, delivered []time.Duration
	i := 0
	for b.Loop() {
		i++
		id := "REF-" + strconv.Itoa(i)
		put("referral", id, referralBody(id, "requested"))
		stored := time.Now()
		n, err := e.Deliver(ctx, st, sys)
		done := time.Now()
		if err != nil || n != 1 {
			b.Fatalf("Deliver %s: %d delivered, %v; want 1", id, n, err)
		}
		at, ok := sys.got["cpi comune:"+id]
		if !ok {
			b.Fatalf("%s delivered but not written to the cpi connector", id)
		}
		toWrite = append(toWrite, at.Sub(stored))
		delivered = append(delivered, done.Sub(stored))
	}
	// The last one is marked delivered in the store, not only written.
	if v, ok, err := st.Referral(ctx, "comune", "REF-"+strconv.Itoa(i)); err != nil || !ok || v.Delivery != store.DeliveryDelivered {
		b.Fatalf("last referral: found %v, delivery %q, %v; want delivered", ok, v.Delivery, err)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(quantile(toWrite, 0.50)), "ms-to-write-p50")
	b.ReportMetric(ms(quantile(toWrite, 0.99)), "ms-to-write-p99")
	b.ReportMetric(ms(quantile(delivered, 0.50)), "ms-delivered-p50")
	b.ReportMetric(ms(quantile(delivered, 0.99)), "ms-delivered-p99")
	b.ReportMetric(0, "ns/op")
}

// quantile is the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
