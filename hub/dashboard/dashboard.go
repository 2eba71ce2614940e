// Package dashboard serves the regional comparison dashboard: a single
// page in plain JavaScript that draws the comparison API
// (/api/v1/compare/*) as charts and tables. Every asset is embedded in
// the binary, so the dashboard works offline and with no CDN; the data
// comes only from the API, under the viewer's token.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed web
var webFS embed.FS

// DefaultAPIBase is where the comparison API lives on the same origin.
const DefaultAPIBase = "/api/v1/compare"

// Options configures the dashboard.
type Options struct {
	// APIBase is the path of the comparison API, DefaultAPIBase when
	// empty. The page reads it from a <meta> element, so the API and
	// the dashboard can be mounted apart.
	APIBase string
	// RegionName, when set, titles the page before the API answers.
	RegionName string
	// TerritoryName, when set instead, titles the page as a territory
	// hub's own view ("snodo run") before the API answers — the login
	// form comes first, so the page cannot wait for the API to say so.
	TerritoryName string
}

// contentSecurityPolicy forbids inline script and style and any other
// origin: the page only loads its own assets and talks to its own API,
// so a value injected in a territory name cannot run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file with what its response needs.
type asset struct {
	body        []byte
	contentType string
	etag        string // strong, the content hash
	version     string // the first 12 hex digits of the hash, for ?v=
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	// mime's table depends on the host's /etc/mime.types; pin the types
	// the dashboard ships so that nosniff never meets a wrong one.
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	case ".html":
		ct = "text/html; charset=utf-8"
	}
	return asset{body: body, contentType: ct, etag: `"` + h[:32] + `"`, version: h[:12]}
}

// handler serves index.html at / and the embedded files under /assets/.
type handler struct {
	index  asset
	assets map[string]asset // by path under web/assets
}

// Handler returns the dashboard's handler. Mount it at the root of the
// region's server next to the API: it answers "/" (and "/index.html")
// with the page and "/assets/..." with the embedded files, and 404 for
// anything else.
func Handler(opts Options) (http.Handler, error) {
	if opts.APIBase == "" {
		opts.APIBase = DefaultAPIBase
	}
	h := &handler{assets: map[string]asset{}}
	err := fs.WalkDir(webFS, "web/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := webFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "web/assets/")
		h.assets[name] = newAsset(name, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: read embedded assets: %w", err)
	}
	src, err := webFS.ReadFile("web/index.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: read embedded index.html: %w", err)
	}
	tpl, err := template.New("index").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("dashboard: parse index.html: %w", err)
	}
	// Each asset URL carries its content hash, so a new binary's assets
	// are fetched anew while the old ones stay cached as immutable.
	versions := map[string]string{}
	for name, a := range h.assets {
		versions[name] = "assets/" + name + "?v=" + a.version
	}
	var buf bytes.Buffer
	err = tpl.Execute(&buf, map[string]any{"APIBase": opts.APIBase, "RegionName": opts.RegionName, "TerritoryName": opts.TerritoryName, "Asset": versions})
	if err != nil {
		return nil, fmt.Errorf("dashboard: render index.html: %w", err)
	}
	h.index = newAsset("index.html", buf.Bytes())
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "/" || p == "/index.html":
		// The page names the assets' versions, so it must be revalidated
		// each time; the ETag makes that a 304.
		hd.Set("Cache-Control", "no-cache")
		h.serve(w, r, h.index)
	case strings.HasPrefix(p, "/assets/"):
		a, ok := h.assets[strings.TrimPrefix(p, "/assets/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == a.version {
			hd.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hd.Set("Cache-Control", "no-cache")
		}
		h.serve(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a asset) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("ETag", a.etag)
	// http.ServeContent answers If-None-Match with 304 and HEAD and
	// ranges; a zero modtime leaves Last-Modified out.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
