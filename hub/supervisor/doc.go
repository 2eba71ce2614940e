// Package supervisor keeps one connector instance running: it starts the
// connector's process, reads from it, hands every batch to the pipeline
// together with its cursor, and restarts the process when it crashes or
// hangs — the hub's "running connector", as Telegraf wraps each plugin in a
// running model so that plugin authors never write retries, stats or
// restarts.
//
// A Supervisor is made with New from a Config and two dependencies: Cursors
// (where the committed cursors are) and a Sink (which stores a batch and
// commits its cursor in one transaction). Run loops until its context ends;
// ReadOnce starts the connector, reads what is new and stops.
//
// # States
//
//	            ┌────────────── after the backoff ───────────────┐
//	            ▼                                                │
//	(New) ──► starting ──────────► running ─────────────► recovering
//	            │    started,       │   ▲    crash, hang        ▲
//	            │    Check passes   │   │                       │
//	            │         transient │   │ a read or             │
//	            │             error ▼   │ Check succeeds        │
//	            └─────────────────► degraded ───────────────────┘
//	              Check fails:                crash, hang
//	              transient
//
//	starting ──► recovering: the process did not start (no handshake)
//	any state ──► stopped:   the context ended, or a failure no restart
//	                         can fix (settings rejected, a fatal error,
//	                         the binary missing or not matching its pin)
//
// In degraded the process is kept and called again after the backoff; in
// recovering it is gone (killed if it hung) and a new one is started after
// the backoff.
//
// A Sink that stores a batch but returns a *DegradedError (the pipeline
// does when too many of a connector's records go to quarantine) moves a
// running instance to degraded with the Sink's reason, without a backoff:
// reading goes on, and the first batch stored without one moves it back to
// running.
//
// Every transition carries a reason for the admin, visible in Status and
// passed to Config.OnChange.
//
// # Backoff
//
// Failures (a crash, a hang, a failed start, a transient error) wait
// Backoff.Initial (1 s) before the next attempt, doubling at each
// consecutive failure up to Backoff.Max (10 min). Once the instance has
// been running for Backoff.ResetAfter (5 min) without a failure, the next
// failure waits Initial again.
//
// # Delivery
//
// A read always starts from the cursor last committed by the Sink, and the
// Sink commits a batch's records and its cursor together, so a restart
// neither loses nor repeats a record: what was read but not committed is
// read again, what was committed is not. When the context ends during a
// read, the batch being stored is finished first (the Sink's context does
// not end with Run's), then the read is cancelled and the process closed.
package supervisor
