package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/referral"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
)

// PipelineStats reports the pipeline's counters since it started;
// *pipeline.Pipeline implements it. They are read at each scrape.
type PipelineStats interface {
	Stats() pipeline.Stats
}

// Metrics are the hub's Prometheus metrics, on a registry of their own.
// Read at each scrape from the pipeline, the store and the supervisors:
//
//	snodo_pipeline_records_total{connector,outcome}     counter: inserted, updated, unchanged, quarantined
//	snodo_pipeline_batches_total{connector}             counter
//	snodo_pipeline_batch_duration_seconds               histogram: from a batch's arrival to its commit
//	snodo_pipeline_poisoned_batches_total               counter: batches quarantined whole
//	snodo_quarantine_replayed_total                     counter: quarantined records stored by a replay
//	snodo_connector_degraded{connector}                 1 while a connector floods the quarantine
//	snodo_quarantine_records                            gauge: awaiting replay or drop
//	snodo_store_size_bytes                              gauge: the database file's pages
//	snodo_connector_restarts_total{connector}           counter
//	snodo_connector_state{connector,state}              1 for the instance's state, 0 for the others
//	snodo_referrals{status}                             gauge: referrals tracked, by current status
//	snodo_referrals_delivery{delivery}                  gauge: by delivery state (local, unrouted, held, pending, delivered)
//	snodo_referrals_overdue{priority}                   gauge: still requested past the priority's response target
//	snodo_referral_status_changes_total{outcome}        counter: reported status changes, applied or refused
//
// Counted as requests are answered:
//
//	snodo_http_requests_total{route,code}               counter: API requests by route pattern
//
// And the Go runtime and process collectors. Labels are connector
// instance names, outcomes, states and route patterns: never anything from
// a record or a request's path.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
}

// NewMetrics makes the metrics of a hub whose store is s, whose connectors
// are c, whose pipeline is p and whose referral engine is r (c, p and r
// may be nil: none).
func NewMetrics(s *store.Store, c Connectors, p PipelineStats, r Referrals) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "snodo_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(
		m.requests,
		newHubCollector(s, c, p, r),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *Metrics) observeRequest(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// Registry is the registry the metrics are on, for adding others.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// handler serves the metrics in the Prometheus text format (or the
// formats a scraper negotiates). A figure that cannot be read is left out
// and logged; the others are still served.
func (m *Metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{log},
	})
}

type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Error("metrics: a figure could not be collected", "error", slog.AnyValue(v))
}

// hubCollector reads the pipeline's, the store's and the connectors'
// figures at each scrape.
type hubCollector struct {
	store      *store.Store
	connectors Connectors
	pipeline   PipelineStats
	referrals  Referrals

	records, batches, latency, poisoned, replayed, degraded *prometheus.Desc
	quarantine, storeSize, restarts, state                  *prometheus.Desc
	refStatus, refDelivery, refOverdue, refChanges          *prometheus.Desc
}

func newHubCollector(s *store.Store, c Connectors, p PipelineStats, r Referrals) *hubCollector {
	return &hubCollector{
		store:      s,
		connectors: c,
		pipeline:   p,
		referrals:  r,
		records: prometheus.NewDesc("snodo_pipeline_records_total",
			"Records the pipeline handled since the hub started, by connector instance and outcome (inserted, updated, unchanged, quarantined).",
			[]string{"connector", "outcome"}, nil),
		batches: prometheus.NewDesc("snodo_pipeline_batches_total",
			"Batches the pipeline handled since the hub started, by connector instance.", []string{"connector"}, nil),
		latency: prometheus.NewDesc("snodo_pipeline_batch_duration_seconds",
			"Time from a batch's arrival in the pipeline to its commit.", nil, nil),
		poisoned: prometheus.NewDesc("snodo_pipeline_poisoned_batches_total",
			"Batches that kept failing and were put in quarantine whole.", nil, nil),
		replayed: prometheus.NewDesc("snodo_quarantine_replayed_total",
			"Quarantined records stored by a replay since the hub started.", nil, nil),
		degraded: prometheus.NewDesc("snodo_connector_degraded",
			"1 while a connector instance floods the quarantine (see /api/v1/connectors), else 0.", []string{"connector"}, nil),
		quarantine: prometheus.NewDesc("snodo_quarantine_records",
			"Quarantined records awaiting replay or drop.", nil, nil),
		storeSize: prometheus.NewDesc("snodo_store_size_bytes",
			"Size of the database file (its pages, free ones included; not the write-ahead log).", nil, nil),
		restarts: prometheus.NewDesc("snodo_connector_restarts_total",
			"Restarts of each connector instance's process since the hub started.", []string{"connector"}, nil),
		state: prometheus.NewDesc("snodo_connector_state",
			"1 for the state each connector instance is in, 0 for the others.", []string{"connector", "state"}, nil),
		refStatus: prometheus.NewDesc("snodo_referrals",
			"Referrals the hub tracks, by current status.", []string{"status"}, nil),
		refDelivery: prometheus.NewDesc("snodo_referrals_delivery",
			"Referrals by delivery state: local, unrouted (no connector serves the receiving organisation), held (no consent, or a draft), pending (in the outbox), delivered.", []string{"delivery"}, nil),
		refOverdue: prometheus.NewDesc("snodo_referrals_overdue",
			"Referrals still requested past their priority's response target (referrals.response_targets).", []string{"priority"}, nil),
		refChanges: prometheus.NewDesc("snodo_referral_status_changes_total",
			"Referral status changes reported by connectors, by outcome: applied, or refused (wrong party, not allowed from the current status...).", []string{"outcome"}, nil),
	}
}

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.records, c.batches, c.latency, c.poisoned, c.replayed, c.degraded, c.quarantine, c.storeSize, c.restarts, c.state,
		c.refStatus, c.refDelivery, c.refOverdue, c.refChanges} {
		ch <- d
	}
}

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 5 * time.Second

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if c.pipeline != nil {
		c.collectPipeline(ch, c.pipeline.Stats())
	}
	if n, err := c.store.QuarantineCount(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.quarantine, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.quarantine, prometheus.GaugeValue, float64(n))
	}
	if n, err := c.store.SizeBytes(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.storeSize, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.storeSize, prometheus.GaugeValue, float64(n))
	}
	c.collectReferrals(ctx, ch)
	for _, st := range statuses(c.connectors) {
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(st.Restarts), st.Name)
		for _, s := range []supervisor.State{supervisor.Stopped, supervisor.Starting, supervisor.Running, supervisor.Degraded, supervisor.Recovering} {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, st.Name, s.String())
		}
	}
}

func (c *hubCollector) collectPipeline(ch chan<- prometheus.Metric, st pipeline.Stats) {
	for name, src := range st.Sources {
		for _, o := range []struct {
			outcome string
			n       int64
		}{{"inserted", src.Inserted}, {"updated", src.Updated}, {"unchanged", src.Unchanged}, {"quarantined", src.Quarantined}} {
			ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(o.n), name, o.outcome)
		}
		ch <- prometheus.MustNewConstMetric(c.batches, prometheus.CounterValue, float64(src.Batches), name)
		degraded := 0.0
		if src.Degraded != "" {
			degraded = 1
		}
		ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, degraded, name)
	}
	h := st.Latency
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		if i < len(h.Buckets) {
			buckets[b] = h.Buckets[i]
		}
	}
	if m, err := prometheus.NewConstHistogram(c.latency, h.Count, h.Sum, buckets); err != nil {
		ch <- prometheus.NewInvalidMetric(c.latency, err)
	} else {
		ch <- m
	}
	ch <- prometheus.MustNewConstMetric(c.poisoned, prometheus.CounterValue, float64(st.PoisonedBatches))
	ch <- prometheus.MustNewConstMetric(c.replayed, prometheus.CounterValue, float64(st.Replayed))
}

// collectReferrals reports every status, delivery state, priority with a
// response target and outcome, with 0 for those no referral has, so that
// an alert on a series never sees it vanish.
func (c *hubCollector) collectReferrals(ctx context.Context, ch chan<- prometheus.Metric) {
	var overdue map[string]time.Time
	if c.referrals != nil {
		overdue = c.referrals.Overdue()
	}
	n, err := c.store.CountReferrals(ctx, overdue)
	if err != nil {
		for _, d := range []*prometheus.Desc{c.refStatus, c.refDelivery, c.refOverdue, c.refChanges} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	for _, s := range referral.Statuses {
		ch <- prometheus.MustNewConstMetric(c.refStatus, prometheus.GaugeValue, float64(n.ByStatus[string(s)]), string(s))
	}
	for _, d := range []string{store.DeliveryLocal, store.DeliveryUnrouted, store.DeliveryHeld, store.DeliveryPending, store.DeliveryDelivered} {
		ch <- prometheus.MustNewConstMetric(c.refDelivery, prometheus.GaugeValue, float64(n.ByDelivery[d]), d)
	}
	for priority := range overdue {
		ch <- prometheus.MustNewConstMetric(c.refOverdue, prometheus.GaugeValue, float64(n.Overdue[priority]), priority)
	}
	for _, o := range []string{"applied", "refused"} {
		ch <- prometheus.MustNewConstMetric(c.refChanges, prometheus.CounterValue, float64(n.Events[o]), o)
	}
}
