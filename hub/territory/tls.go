package territory

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/snodo-hub/snodo/hub/config"
)

// The self-signed pair "snodo init --tls" writes, relative to the set-up's
// folder.
const (
	TLSCertFile = "keys/tls.crt"
	TLSKeyFile  = "keys/tls.key"
)

// TLSValidity is how long a self-signed certificate is valid. Long enough
// not to surprise an admin, short enough that a key taken with a backup
// does not stay good for ever; renew it with a CA's or a new pair.
const TLSValidity = 2 * 365 * 24 * time.Hour

// TLSSetup is what AddTLS created.
type TLSSetup struct {
	Cert, Key string   // absolute paths
	Names     []string // the certificate's DNS names and IP addresses
	NotAfter  time.Time
}

// AddTLS gives a set-up made by Init a self-signed certificate for its API
// (ECDSA P-256; for 127.0.0.1, ::1, localhost and this machine's host
// name), writes its key with mode 0600 and sets tls: in snodo.yaml, so
// that "snodo run" serves HTTPS only. Clients trust the certificate
// file itself (curl --cacert keys/tls.crt). It refuses a set-up that
// already has the files or a tls: setting.
func AddTLS(s *Setup) (*TLSSetup, error) {
	out := &TLSSetup{Cert: filepath.Join(s.Dir, TLSCertFile), Key: filepath.Join(s.Dir, TLSKeyFile)}
	for _, p := range []string{out.Cert, out.Key} {
		if _, err := os.Stat(p); err == nil {
			return nil, &ExistsError{Path: p}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	cfg, err := os.ReadFile(s.Config)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.Config, err)
	}
	c, err := config.Parse(s.Config, cfg)
	if err != nil {
		return nil, err
	}
	if c.TLS.Enabled() {
		return nil, fmt.Errorf("%s sets tls: already: remove it first to make a self-signed pair", s.Config)
	}
	if out.Names, out.NotAfter, err = WriteSelfSignedTLS(out.Cert, out.Key); err != nil {
		return nil, err
	}
	section := fmt.Sprintf("\n# HTTPS only, with the self-signed certificate \"snodo init --tls\" made (valid\n"+
		"# until %s): clients trust %s. Replace both files with a CA's at will.\n"+
		"tls:\n  cert_file: %s\n  key_file: %s\n", out.NotAfter.Format(time.DateOnly), TLSCertFile, TLSCertFile, TLSKeyFile)
	cfg = append(bytes.TrimRight(cfg, "\n"), '\n')
	cfg = append(cfg, section...)
	if err := os.WriteFile(s.Config, cfg, 0o640); err != nil {
		return nil, fmt.Errorf("write %s: %w", s.Config, err)
	}
	if c, err := config.Load(s.Config); err != nil || !c.TLS.Enabled() {
		return nil, fmt.Errorf("the configuration with tls: does not load (a bug): %v", err)
	}
	return out, nil
}

// WriteSelfSignedTLS makes a self-signed pair for this machine
// (SelfSignedTLS, valid TLSValidity) and writes the key (0600, first, so
// that a failure leaves no certificate without its key) and the
// certificate, refusing to overwrite either. It returns the names the
// certificate is for and when it expires. "snodo region init --tls" uses
// it too.
func WriteSelfSignedTLS(certPath, keyPath string) (names []string, notAfter time.Time, err error) {
	host, _ := os.Hostname()
	certPEM, keyPEM, err := SelfSignedTLS(host, time.Now(), TLSValidity)
	if err != nil {
		return nil, time.Time{}, err
	}
	cert, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(cert.Bytes)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read back the certificate just made (a bug): %w", err)
	}
	names = leaf.DNSNames
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	for _, dir := range []string{filepath.Dir(keyPath), filepath.Dir(certPath)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, time.Time{}, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	if err := writeNewFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, time.Time{}, fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := writeNewFile(certPath, certPEM, 0o644); err != nil {
		return nil, time.Time{}, fmt.Errorf("write %s: %w", certPath, err)
	}
	return names, leaf.NotAfter, nil
}

// SelfSignedTLS makes a self-signed server certificate and its key (PEM):
// ECDSA P-256, valid from an hour before now (clocks drift) for validity,
// for localhost, 127.0.0.1, ::1 and host when it is not empty. It is its
// own CA (basic constraints CA, no path below it), so that a client can
// trust the certificate file as its root.
func SelfSignedTLS(host string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("make the TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("make the certificate's serial number: %w", err)
	}
	names := []string{"localhost"}
	if host != "" && host != "localhost" {
		names = append(names, host)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[len(names)-1], Organization: []string{"Snodo hub (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make the TLS certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the TLS key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), nil
}
