package federation

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"time"

	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
)

// JetStream names shared by the territories' uplinks and the region.
const (
	// JetStreamStream is the stream holding the envelopes.
	JetStreamStream = "SNODO_ENVELOPES"
	// JetStreamSubjectPrefix starts the subject of a territory's envelopes:
	// "snodo.envelopes.<territory>".
	JetStreamSubjectPrefix = "snodo.envelopes."
	// JetStreamDurable is the region's durable consumer.
	JetStreamDurable = "snodo-region-intake"
	// JetStreamDuplicateWindow is the stream's duplicate window: a message
	// published again with the same Nats-Msg-Id (the outbox dedup key)
	// within it is stored once. It covers a crash between the publish and
	// the outbox's commit, and the longest transient backoff.
	JetStreamDuplicateWindow = 24 * time.Hour
)

var territoryToken = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)

// EnvelopeSubject is the JetStream subject of a territory's envelopes.
func EnvelopeSubject(territory string) (string, error) {
	if !territoryToken.MatchString(territory) {
		return "", fmt.Errorf("the territory code %q is not valid (upper-case letters, digits and '-', 2 to 32)", territory)
	}
	return JetStreamSubjectPrefix + territory, nil
}

// NATSAccess is how a side of the JetStream link proves who it is to the
// NATS server and whom it trusts for TLS. The zero value connects without
// credentials and trusts the system's authorities.
type NATSAccess struct {
	// CredentialsFile is a NATS credentials file (.creds: the user's JWT
	// and nkey seed, as "nsc generate creds" writes it). It holds a
	// secret, so one that group or others may read is refused.
	CredentialsFile string
	// CAFile is a PEM bundle of the authorities trusted, instead of the
	// system's, when the connection is TLS (a tls:// URL, or a server that
	// requires TLS). The URL, not this setting, decides whether TLS is used.
	CAFile string
}

// natsOptions are the connection options of both sides: reconnect forever,
// and no reconnect buffer, so that a publish while disconnected fails at
// once (and is retried from the outbox) instead of being sent later behind
// the uplink's back; plus access's credentials and authorities.
func natsOptions(name string, access NATSAccess) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(2 * time.Second),
		nats.ReconnectBufSize(-1),
		// nats.go gives up for good after the same authorization error
		// twice; the uplink would then fail until restarted even once the
		// server accepts its credentials again. Keep trying, like for any
		// other outage: the outbox waits meanwhile.
		nats.IgnoreAuthErrorAbort(),
	}
	if access.CredentialsFile != "" {
		if err := checkCredentialsFile(access.CredentialsFile); err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserCredentials(access.CredentialsFile))
	}
	if access.CAFile != "" {
		pem, err := os.ReadFile(access.CAFile)
		if err != nil {
			return nil, fmt.Errorf("NATS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("NATS CA file %s holds no PEM certificate", access.CAFile)
		}
		// Set as the TLS configuration rather than with nats.RootCAs,
		// which would also force TLS on a nats:// URL.
		conf := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
		opts = append(opts, func(o *nats.Options) error {
			o.TLSConfig = conf
			return nil
		})
	}
	return opts, nil
}

// Check says whether a's files can be used, before any connection: a
// service can then refuse to start rather than fail in the background.
func (a NATSAccess) Check() error {
	_, err := natsOptions("", a)
	return err
}

// checkCredentialsFile refuses a credentials file that is missing, that
// group or others may read (as the hub's keys), or that is not a .creds
// file: nats.go would otherwise only fail at each connection attempt, in
// the background.
func checkCredentialsFile(path string) error {
	if err := keyring.CheckPrivate(path); err != nil {
		return fmt.Errorf("NATS credentials: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("NATS credentials: %w", err)
	}
	if !bytes.Contains(data, []byte("BEGIN NATS USER JWT")) || !bytes.Contains(data, []byte("NKEY SEED")) {
		return fmt.Errorf("NATS credentials: %s is not a NATS credentials file (it needs the user's JWT and nkey seed blocks, as \"nsc generate creds\" writes them)", path)
	}
	return nil
}

// notConnected adds to err, when the connection is down, the reason the
// server last gave: without it a refused login shows only as "not
// connected", the same as a server that is down.
func notConnected(nc *nats.Conn, err error) error {
	if nc.IsConnected() {
		return err
	}
	last := nc.LastError()
	switch {
	case last == nil:
		return fmt.Errorf("%w (not connected to NATS)", err)
	case errors.Is(last, nats.ErrAuthorization), errors.Is(last, nats.ErrAuthExpired), errors.Is(last, nats.ErrAuthRevoked), errors.Is(last, nats.ErrAccountAuthExpired):
		return fmt.Errorf("%w (not connected: the NATS server refused this hub's credentials: %v; check the NATS credentials file)", err, last)
	default:
		return fmt.Errorf("%w (not connected to NATS: %v)", err, last)
	}
}

// ensureStream creates the envelopes' stream if it is missing.
func ensureStream(ctx context.Context, js jetstream.JetStream) error {
	_, err := js.Stream(ctx, JetStreamStream)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("look up JetStream stream %s: %w", JetStreamStream, err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        JetStreamStream,
		Description: "Snodo federation envelopes (signed anonymised statistics)",
		Subjects:    []string{JetStreamSubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  JetStreamDuplicateWindow,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("create JetStream stream %s: %w", JetStreamStream, err)
	}
	return nil
}

// JetStreamPublisher publishes envelopes to NATS JetStream through
// watermill-nats, on the subject given as topic (EnvelopeSubject), with the
// message's UUID (the outbox dedup key) as Nats-Msg-Id so that the stream's
// duplicate window drops a second copy. It creates the stream if missing.
// Every failure is transient.
type JetStreamPublisher struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	pub *wmnats.Publisher

	mu      sync.Mutex
	ensured bool
}

var _ message.Publisher = (*JetStreamPublisher)(nil)

// NewJetStreamPublisher connects to the NATS server at natsURL with
// access's credentials and authorities (connecting in the background if it
// is down). A credentials or CA file that cannot be used fails here, not at
// the first publish.
func NewJetStreamPublisher(natsURL string, access NATSAccess) (*JetStreamPublisher, error) {
	opts, err := natsOptions("snodo uplink", access)
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	nc, err := nats.Connect(natsURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("federation: connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("federation: JetStream: %w", err)
	}
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{TrackMsgId: true},
	}, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("federation: JetStream publisher: %w", err)
	}
	return &JetStreamPublisher{nc: nc, js: js, pub: pub}, nil
}

// Publish publishes the messages on subject topic and waits for the
// stream's acknowledgements.
func (p *JetStreamPublisher) Publish(topic string, msgs ...*message.Message) error {
	ctx := context.Background()
	if len(msgs) > 0 {
		ctx = msgs[0].Context()
	}
	p.mu.Lock()
	ensured := p.ensured
	p.mu.Unlock()
	if !ensured {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := ensureStream(ctx, p.js)
		cancel()
		if err != nil {
			return notConnected(p.nc, fmt.Errorf("publish envelope to NATS: %w", err))
		}
		p.mu.Lock()
		p.ensured = true
		p.mu.Unlock()
	}
	if err := p.pub.Publish(topic, msgs...); err != nil {
		// The stream may have been deleted: look again next time.
		p.mu.Lock()
		p.ensured = false
		p.mu.Unlock()
		return notConnected(p.nc, fmt.Errorf("publish envelope to NATS: %w", err))
	}
	return nil
}

// Close closes the connection.
func (p *JetStreamPublisher) Close() error {
	return p.pub.Close()
}

// JetStreamConsumer reads the envelopes of the stream with a durable
// consumer and hands each to Handle: acknowledged when Handle returns nil,
// terminated (never redelivered) when it returns a permanent error
// (Permanent), redelivered after NakDelay otherwise.
type JetStreamConsumer struct {
	URL string
	// Access is the consumer's NATS credentials and trusted authorities.
	Access NATSAccess
	Handle func(ctx context.Context, envelope []byte) error
	// Durable is the consumer's name (default JetStreamDurable).
	Durable string
	// NakDelay is the pause before the redelivery that follows the
	// delivered-th (1-based) transient failure (default: 1 s doubling to
	// 10 min, ±20 %).
	NakDelay func(delivered int) time.Duration
	// AckWait is how long a message may be handled before it is redelivered
	// (default 1 min).
	AckWait time.Duration
	Logger  *slog.Logger
}

// ConsumeJetStream hands the envelopes of the JetStream stream at natsURL to
// handle until ctx ends (see JetStreamConsumer), and returns nil then. It
// creates the stream and the durable consumer if missing, waiting for the
// server if it is down.
func ConsumeJetStream(ctx context.Context, natsURL string, handle func(ctx context.Context, envelope []byte) error) error {
	return (&JetStreamConsumer{URL: natsURL, Handle: handle}).Run(ctx)
}

// Run consumes until ctx ends.
func (c *JetStreamConsumer) Run(ctx context.Context) error {
	if c.Handle == nil {
		return errors.New("federation: JetStream consumer: no handler")
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nakDelay := c.NakDelay
	if nakDelay == nil {
		nakDelay = func(delivered int) time.Duration { return store.RetryAfter(delivered - 1) }
	}
	durable := c.Durable
	if durable == "" {
		durable = JetStreamDurable
	}
	ackWait := c.AckWait
	if ackWait <= 0 {
		ackWait = time.Minute
	}
	opts, err := natsOptions("snodo region intake", c.Access)
	if err != nil {
		return fmt.Errorf("federation: %w", err)
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return fmt.Errorf("federation: connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("federation: JetStream: %w", err)
	}

	// Stream and consumer, retried while the server is unreachable.
	var cons jetstream.Consumer
	for attempt := 0; ; attempt++ {
		cons, err = c.setUp(ctx, js, durable, ackWait)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := store.RetryAfter(attempt)
		log.Warn("JetStream not ready; trying again", "error", notConnected(nc, err), "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}

	cc, err := cons.Consume(func(m jetstream.Msg) {
		c.handle(ctx, log, nakDelay, m)
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if ctx.Err() == nil {
			log.Warn("JetStream consumer", "error", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("federation: consume JetStream stream %s: %w", JetStreamStream, err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	return nil
}

func (c *JetStreamConsumer) setUp(ctx context.Context, js jetstream.JetStream, durable string, ackWait time.Duration) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ensureStream(ctx, js); err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, JetStreamStream, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "Snodo region intake",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		FilterSubject: JetStreamSubjectPrefix + ">",
	})
	if err != nil {
		return nil, fmt.Errorf("create JetStream consumer %s: %w", durable, err)
	}
	return cons, nil
}

func (c *JetStreamConsumer) handle(ctx context.Context, log *slog.Logger, nakDelay func(int) time.Duration, m jetstream.Msg) {
	delivered := 1
	if md, err := m.Metadata(); err == nil {
		delivered = int(md.NumDelivered)
	}
	err := c.Handle(ctx, m.Data())
	var ackErr error
	switch {
	case err == nil:
		ackErr = m.Ack()
	case ctx.Err() != nil:
		ackErr = m.Nak() // shutting down: someone else (or the next run) takes it
	case IsPermanent(err):
		log.Error("envelope refused; not redelivered", "subject", m.Subject(), "error", err)
		// Term, not TermWithReason: servers before 2.10.4 (Debian's
		// 2.9) ignore the latter and would redeliver.
		ackErr = m.Term()
	default:
		d := nakDelay(delivered)
		log.Warn("envelope not taken; redelivered later", "subject", m.Subject(), "delivered", delivered, "retry_in", d, "error", err)
		ackErr = m.NakWithDelay(d)
	}
	if ackErr != nil && ctx.Err() == nil {
		log.Warn("JetStream acknowledgement failed: the envelope will be redelivered", "subject", m.Subject(), "error", ackErr)
	}
}
