package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/snodo-hub/snodo/hub/compare"
)

// chromiumPath finds Debian's chromium; CI installs it (.ci/run), so a
// missing browser fails there and skips elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium in PATH: .ci/run installs Debian's chromium for the browser test")
	}
	t.Skip("no chromium in PATH (apt-get install chromium)")
	return ""
}

// screenshotDir is where the browser test keeps its screenshots:
// $SNODO_SCREENSHOTS, or a folder in the system's temporary directory.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SNODO_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "snodo-dashboard-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboardInBrowser builds a small demo region with the real demo
// code, serves its API and dashboard as "snodo demo" does, and drives the
// page in headless Chromium: the territories chart must draw, for every
// territory, the rate and interval the API gives (suppressed ones as
// suppressed, never as a bar of zero), the overview's cards the API's
// region rates, and the territory profile one row per indicator.
// Screenshots of each view are saved (screenshotDir).
func TestDashboardInBrowser(t *testing.T) {
	browser := chromiumPath(t)
	dir := sharedDemo(t).dir
	ctx := context.Background()
	file, api := demoRegionAPI(t, dir)
	mux, err := regionMux(api, "Regione Toscana")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	const epoch = "2025"
	var meta struct {
		Indicators []struct{ ID, Kind string }
	}
	getJSON(t, srv.URL+"/api/v1/compare/meta", &meta)

	alloc, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-background-networking", true))...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 6*time.Minute)
	defer cancel()
	shots := screenshotDir(t)

	// Each ratio indicator's view: one bar per territory, with the API's
	// rate and interval, or marked as not published.
	published, suppressed := 0, 0
	var page []byte
	for _, ind := range meta.Indicators {
		if ind.Kind != "ratio" {
			continue
		}
		var want struct {
			Territories []struct {
				Code    string
				Display string
				Rate    compare.Estimate
			}
		}
		getJSON(t, srv.URL+"/api/v1/compare/indicator?indicator="+ind.ID+"&epoch="+epoch, &want)
		if len(want.Territories) != len(file.Territories) {
			t.Fatalf("%s: the API answers %d territories, the file has %d", ind.ID, len(want.Territories), len(file.Territories))
		}
		first := published+suppressed == 0
		var bars []*cdp.Node
		actions := []chromedp.Action{
			chromedp.Navigate(srv.URL + "/#/indicator/" + ind.ID + "?epoch=" + epoch),
			chromedp.WaitVisible(`[data-testid="view-indicator"][data-indicator="`+ind.ID+`"] [data-testid="chart-territories"] [data-testid="bar"]`, chromedp.ByQuery),
			chromedp.Nodes(`[data-testid="chart-territories"] [data-testid="bar"]`, &bars, chromedp.ByQueryAll),
		}
		if first {
			actions = append(actions, chromedp.FullScreenshot(&page, 90))
		}
		if err := chromedp.Run(bctx, actions...); err != nil {
			t.Fatalf("%s: the indicator view did not draw its territories chart: %v", ind.ID, err)
		}
		if first {
			save(t, shots, "indicator-it.png", page)
		}
		drawn := map[string]map[string]string{}
		for _, n := range bars {
			drawn[n.AttributeValue("data-territory")] = map[string]string{
				"value": n.AttributeValue("data-value"), "low": n.AttributeValue("data-low"), "high": n.AttributeValue("data-high"),
				"suppressed": n.AttributeValue("data-suppressed"), "display": n.AttributeValue("data-display")}
		}
		for _, w := range want.Territories {
			d, ok := drawn[w.Code]
			if !ok {
				t.Errorf("%s %s: no bar in the chart", ind.ID, w.Code)
				continue
			}
			if d["display"] != w.Display {
				t.Errorf("%s %s: the chart shows %q, the API %q", ind.ID, w.Code, d["display"], w.Display)
			}
			if !w.Rate.Published {
				suppressed++
				if d["suppressed"] != "true" || d["value"] != "" {
					t.Errorf("%s %s: not published by the API (%s) but drawn as %v", ind.ID, w.Code, w.Rate.Reason, d)
				}
				continue
			}
			published++
			for k, v := range map[string]float64{"value": w.Rate.Value, "low": w.Rate.Low, "high": w.Rate.High} {
				if got, err := strconv.ParseFloat(d[k], 64); err != nil || math.Abs(got-v) > 1e-6 {
					t.Errorf("%s %s: the bar's %s is %q, the API's %v", ind.ID, w.Code, k, d[k], v)
				}
			}
		}
	}
	t.Logf("%s: %d territory rates drawn as the API gives them, %d shown as not published", epoch, published, suppressed)
	if published == 0 || suppressed == 0 {
		t.Errorf("%d published and %d unpublished rates: the demo no longer exercises both", published, suppressed)
	}

	// The overview in English: a card per ratio indicator with the
	// API's region rate.
	var overview struct{ Rows []overviewRow }
	getJSON(t, srv.URL+"/api/v1/compare/overview?epoch="+epoch, &overview)
	var cards []*cdp.Node
	err = chromedp.Run(bctx,
		chromedp.Navigate(srv.URL+"/#/?epoch="+epoch+"&lang=en"),
		chromedp.WaitVisible(`[data-testid="overview-card"]`, chromedp.ByQuery),
		chromedp.Nodes(`[data-testid="overview-card"]`, &cards, chromedp.ByQueryAll),
		chromedp.FullScreenshot(&page, 90),
	)
	if err != nil {
		t.Fatalf("the overview did not draw: %v", err)
	}
	save(t, shots, "overview-en.png", page)
	checkCards(t, "the region's overview", cards, overview.Rows)

	// A territory's profile against its peers.
	var rows []*cdp.Node
	err = chromedp.Run(bctx,
		chromedp.Navigate(srv.URL+"/#/territory/TOS-PO?epoch="+epoch),
		chromedp.WaitVisible(`[data-testid="profile-row"]`, chromedp.ByQuery),
		chromedp.Nodes(`[data-testid="profile-row"]`, &rows, chromedp.ByQueryAll),
		chromedp.FullScreenshot(&page, 90),
	)
	if err != nil {
		t.Fatalf("the territory profile did not draw: %v", err)
	}
	save(t, shots, "territory-it.png", page)
	var profile struct{ Rows []json.RawMessage }
	getJSON(t, srv.URL+"/api/v1/compare/territory?territory=TOS-PO&epoch="+epoch, &profile)
	if len(rows) != len(profile.Rows) || len(rows) == 0 {
		t.Errorf("the profile draws %d rows, the API has %d", len(rows), len(profile.Rows))
	}
	ownViewInBrowser(t, bctx, dir, shots, epoch)
	t.Logf("screenshots in %s", shots)
}

// ownViewInBrowser opens a territory hub's own dashboard ("snodo run"):
// the page asks for a token, takes a viewer token through its form, then
// shows the territory's scope with one card per indicator carrying the
// hub's own figures.
func ownViewInBrowser(t *testing.T, bctx context.Context, dir, shots, epoch string) {
	base, token := ownViewHub(t, dir, "TOS-LU")
	var overview struct{ Rows []overviewRow }
	if status := apiGet(t, base, token, "/api/v1/compare/overview?epoch="+epoch, &overview); status != http.StatusOK {
		t.Fatalf("the hub's own overview: %d", status)
	}
	var page []byte
	var cards []*cdp.Node
	var scope, label string
	err := chromedp.Run(bctx,
		chromedp.Navigate(base+"/#/?epoch="+epoch),
		chromedp.WaitVisible(`[data-testid="login"] input`, chromedp.ByQuery),
		chromedp.SendKeys(`[data-testid="login"] input`, token, chromedp.ByQuery),
		chromedp.Click(`[data-testid="login"] button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`[data-testid="overview-card"]`, chromedp.ByQuery),
		chromedp.Nodes(`[data-testid="overview-card"]`, &cards, chromedp.ByQueryAll),
		chromedp.AttributeValue(`body`, "data-scope", &scope, nil, chromedp.ByQuery),
		chromedp.Text(`#region-label`, &label, chromedp.ByQuery),
		chromedp.FullScreenshot(&page, 90),
	)
	if err != nil {
		t.Fatalf("the territory's own dashboard did not draw after signing in: %v", err)
	}
	save(t, shots, "own-view-it.png", page)
	if scope != "territory" || !strings.Contains(label, "Lucca") {
		t.Errorf("the own view's scope is %q under %q, want territory under Lucca", scope, label)
	}
	checkCards(t, "the territory's own view", cards, overview.Rows)
}

// overviewRow is a row of /api/v1/compare/overview, as far as the cards
// show it.
type overviewRow struct {
	Indicator string
	Region    compare.Estimate
}

// checkCards checks the overview's cards: one per row of the API, each
// showing the row's published value.
func checkCards(t *testing.T, what string, cards []*cdp.Node, rows []overviewRow) {
	t.Helper()
	card := map[string]string{}
	for _, n := range cards {
		card[n.AttributeValue("data-indicator")] = n.AttributeValue("data-value")
	}
	if len(cards) != len(rows) {
		t.Errorf("%s: %d cards, the API has %d rows", what, len(cards), len(rows))
	}
	for _, r := range rows {
		got, err := strconv.ParseFloat(card[r.Indicator], 64)
		if r.Region.Published && (err != nil || math.Abs(got-r.Region.Value) > 1e-6) {
			t.Errorf("%s: card %s shows %q, the API's value is %v", what, r.Indicator, card[r.Indicator], r.Region.Value)
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func save(t *testing.T, dir, name string, png []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(fmt.Errorf("save the screenshot: %w", err))
	}
}
