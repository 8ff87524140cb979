package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/securesign/securesign/internal/loadgen/lg"
)

// scrapeMetrics serves m's /metrics and parses it with Prometheus' own
// text parser: a parser nobody here wrote is the judge of the format.
func scrapeMetrics(t testing.TB, m *metrics) (string, map[string]*dto.MetricFamily) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got, want := rec.Header().Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("Content-Type %q, want %q", got, want)
	}
	body := rec.Body.String()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return body, fams
}

// flatten turns families into "name{l="v",...}" → value, histograms as
// their _bucket, _sum and _count series, as the text shows them.
func flatten(t testing.TB, fams map[string]*dto.MetricFamily, prefix string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	put := func(name string, labels []string, v float64) {
		k := name
		if len(labels) > 0 {
			k += "{" + strings.Join(labels, ",") + "}"
		}
		if _, dup := out[k]; dup {
			t.Errorf("duplicate series %s", k)
		}
		out[k] = v
	}
	for name, mf := range fams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				put(name, labels, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				put(name, labels, m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					put(name+"_bucket", append(slices.Clip(labels), fmt.Sprintf("le=%q", formatFloat(b.GetUpperBound()))), float64(b.GetCumulativeCount()))
				}
				put(name+"_sum", labels, h.GetSampleSum())
				put(name+"_count", labels, float64(h.GetSampleCount()))
			default:
				t.Errorf("%s: unexpected type %v", name, mf.GetType())
			}
		}
	}
	return out
}

// histWant is the flattened latency histogram of one method and route
// with these cumulative bucket counts (the last is +Inf).
func histWant(want map[string]float64, method, route string, cum [14]float64, sum float64) {
	const name = "securesign_http_request_duration_seconds"
	labels := fmt.Sprintf("method=%q,route=%q", method, route)
	for i, le := range []string{"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"} {
		want[fmt.Sprintf("%s_bucket{%s,le=%q}", name, labels, le)] = cum[i]
	}
	want[name+"_sum{"+labels+"}"] = sum
	want[name+"_count{"+labels+"}"] = cum[13]
}

type observation struct {
	method, route string
	status        int
	d             time.Duration
}

func TestMetricsCounts(t *testing.T) {
	healthz := map[string]float64{}
	histWant(healthz, "GET", "/healthz", [14]float64{2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3}, 0.0315)
	healthz[`securesign_http_requests_total{method="GET",route="/healthz",status="200"}`] = 2
	healthz[`securesign_http_requests_total{method="GET",route="/healthz",status="503"}`] = 1

	sessions := map[string]float64{}
	histWant(sessions, "POST", "/v1/sessions", [14]float64{0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, 12.0025)
	sessions[`securesign_http_requests_total{method="POST",route="/v1/sessions",status="201"}`] = 1
	sessions[`securesign_http_requests_total{method="POST",route="/v1/sessions",status="400"}`] = 1
	sessions[`securesign_signing_outcomes_total{kind="session",outcome="created"}`] = 2
	sessions[`securesign_signing_outcomes_total{kind="callback",outcome="approved"}`] = 1

	tests := []struct {
		name     string
		obs      []observation
		outcomes [][2]string
		want     map[string]float64
	}{
		{name: "nothing observed", want: map[string]float64{}},
		{
			name: "bucket bounds are inclusive",
			obs: []observation{
				{"GET", "/healthz", 200, 500 * time.Microsecond},
				{"GET", "/healthz", 200, time.Millisecond},
				{"GET", "/healthz", 503, 30 * time.Millisecond},
			},
			want: healthz,
		},
		{
			name: "past the last bound, and outcomes",
			obs: []observation{
				{"POST", "/v1/sessions", 201, 12 * time.Second},
				{"POST", "/v1/sessions", 400, 2500 * time.Microsecond},
			},
			outcomes: [][2]string{{"session", "created"}, {"callback", "approved"}, {"session", "created"}},
			want:     sessions,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics()
			for _, o := range tt.obs {
				m.observe(o.method, o.route, o.status, o.d)
			}
			for _, o := range tt.outcomes {
				m.outcome(o[0], o[1])
			}
			_, fams := scrapeMetrics(t, m)
			if diff := cmp.Diff(tt.want, flatten(t, fams, "securesign_")); diff != "" {
				t.Errorf("securesign_ series (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetricsFamilies(t *testing.T) {
	type family struct {
		typ    dto.MetricType
		help   string
		labels []string // of every series, without le
	}
	want := map[string]family{
		"securesign_http_requests_total":           {dto.MetricType_COUNTER, "HTTP requests by method, route and status.", []string{"method", "route", "status"}},
		"securesign_http_request_duration_seconds": {dto.MetricType_HISTOGRAM, "HTTP request latency by method and route.", []string{"method", "route"}},
		"securesign_signing_outcomes_total":        {dto.MetricType_COUNTER, "Signing outcomes by kind (session, callback, remote, csc) and outcome.", []string{"kind", "outcome"}},
		"go_goroutines":                            {typ: dto.MetricType_GAUGE},
		"go_threads":                               {typ: dto.MetricType_GAUGE},
		"go_info":                                  {typ: dto.MetricType_GAUGE, labels: []string{"version"}},
		"go_memstats_heap_alloc_bytes":             {typ: dto.MetricType_GAUGE},
		"go_memstats_sys_bytes":                    {typ: dto.MetricType_GAUGE},
		"go_memstats_last_gc_time_seconds":         {typ: dto.MetricType_GAUGE},
		"go_gc_cycles_total":                       {typ: dto.MetricType_COUNTER},
		"go_gc_gogc_percent":                       {typ: dto.MetricType_GAUGE},
		"go_gc_gomemlimit_bytes":                   {typ: dto.MetricType_GAUGE},
		"go_sched_gomaxprocs_threads":              {typ: dto.MetricType_GAUGE},
	}
	if runtime.GOOS == "linux" {
		for name, typ := range map[string]dto.MetricType{
			"process_cpu_seconds_total": dto.MetricType_COUNTER, "process_resident_memory_bytes": dto.MetricType_GAUGE,
			"process_virtual_memory_bytes": dto.MetricType_GAUGE, "process_start_time_seconds": dto.MetricType_GAUGE,
			"process_open_fds": dto.MetricType_GAUGE, "process_max_fds": dto.MetricType_GAUGE,
		} {
			want[name] = family{typ: typ}
		}
	}
	m := newMetrics()
	m.observe("GET", "/healthz", 200, time.Millisecond)
	m.outcome("csc", "signed")
	body, fams := scrapeMetrics(t, m)

	got := map[string]family{}
	for name, mf := range fams {
		f := family{typ: mf.GetType()}
		if w, ok := want[name]; ok && w.help != "" {
			f.help = mf.GetHelp()
		}
		for i, s := range mf.GetMetric() {
			var names []string
			for _, lp := range s.GetLabel() {
				names = append(names, lp.GetName())
			}
			if i == 0 {
				f.labels = names
			} else if !slices.Equal(names, f.labels) {
				t.Errorf("%s: label names %v and %v", name, f.labels, names)
			}
		}
		got[name] = f
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(family{})); diff != "" {
		t.Errorf("families (-want +got):\n%s", diff)
	}

	var order []string
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			order = append(order, strings.Fields(rest)[0])
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("families not sorted by name: %v", order)
	}
	if v := fams["go_info"].GetMetric()[0].GetLabel()[0].GetValue(); v != runtime.Version() {
		t.Errorf("go_info version %q, want %q", v, runtime.Version())
	}

	// The load generator reads these three by name and unit.
	s := lg.ParseMetrics([]byte(body))
	if s.Goroutines < 1 {
		t.Errorf("load generator read go_goroutines %d", s.Goroutines)
	}
	if runtime.GOOS == "linux" {
		if s.RSSBytes < 1<<20 || s.CPUSeconds <= 0 {
			t.Errorf("load generator read RSS %d B, CPU %v s", s.RSSBytes, s.CPUSeconds)
		}
		start := fams["process_start_time_seconds"].GetMetric()[0].GetGauge().GetValue()
		if age := float64(time.Now().Unix()) - start; age < -2 || age > 3600 {
			t.Errorf("process_start_time_seconds %v: %v s ago", start, age)
		}
		if fds := fams["process_open_fds"].GetMetric()[0].GetGauge().GetValue(); fds < 3 {
			t.Errorf("process_open_fds %v", fds)
		}
	}
}

// The text does not depend on the order things happened in, nor on
// sync.Map's iteration order.
func TestMetricsDeterministicOrder(t *testing.T) {
	obs := []observation{
		{"GET", "/b", 200, time.Millisecond}, {"POST", "/a", 201, time.Second}, {"GET", "/a", 404, 0},
		{"GET", "/a", 200, 3 * time.Millisecond}, {"DELETE", "/b", 204, time.Minute}, {"GET", "/a", 500, time.Microsecond},
	}
	outs := [][2]string{{"remote", "signed"}, {"csc", "failed"}, {"csc", "signed"}, {"remote", "failed"}}
	text := func(reverse bool) string {
		m := newMetrics()
		for i := range obs {
			if reverse {
				i = len(obs) - 1 - i
			}
			m.observe(obs[i].method, obs[i].route, obs[i].status, obs[i].d)
		}
		for i := range outs {
			if reverse {
				i = len(outs) - 1 - i
			}
			m.outcome(outs[i][0], outs[i][1])
		}
		body, _ := scrapeMetrics(t, m)
		var keep []string
		for line := range strings.Lines(body) {
			if strings.HasPrefix(line, "securesign_") {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "")
	}
	a, b := text(false), text(true)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("order depends on observation order (-forward +reverse):\n%s", diff)
	}
	want := []string{
		`securesign_http_requests_total{method="DELETE",route="/b",status="204"} 1`,
		`securesign_http_requests_total{method="GET",route="/a",status="200"} 1`,
		`securesign_http_requests_total{method="GET",route="/a",status="404"} 1`,
		`securesign_http_requests_total{method="GET",route="/a",status="500"} 1`,
		`securesign_http_requests_total{method="GET",route="/b",status="200"} 1`,
		`securesign_http_requests_total{method="POST",route="/a",status="201"} 1`,
		`securesign_signing_outcomes_total{kind="csc",outcome="failed"} 1`,
		`securesign_signing_outcomes_total{kind="csc",outcome="signed"} 1`,
		`securesign_signing_outcomes_total{kind="remote",outcome="failed"} 1`,
		`securesign_signing_outcomes_total{kind="remote",outcome="signed"} 1`,
	}
	var got []string
	for line := range strings.Lines(a) {
		if strings.HasPrefix(line, "securesign_http_requests_total") || strings.HasPrefix(line, "securesign_signing_outcomes_total") {
			got = append(got, strings.TrimSuffix(line, "\n"))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series order (-want +got):\n%s", diff)
	}
}

func TestMetricsEscaping(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"backslash", `C:\path\`, `C:\path\`},
		{"quote", `say "hi"`, `say "hi"`},
		{"newline", "two\nlines", "two\nlines"},
		{"all three", "\\\"\n\\n", "\\\"\n\\n"},
		{"tab and braces", "a\tb}{,=", "a\tb}{,="},
		{"non-ASCII", "ünïcødé ✓", "ünïcødé ✓"},
		{"invalid UTF-8", "bad \xff\xfe end", "bad \uFFFD end"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics()
			m.outcome(tt.value, "x")
			m.observe("GET", tt.value, 200, time.Millisecond)
			_, fams := scrapeMetrics(t, m)
			got := map[string]string{}
			for _, name := range []string{"securesign_signing_outcomes_total", "securesign_http_requests_total", "securesign_http_request_duration_seconds"} {
				mf := fams[name]
				if mf == nil || len(mf.GetMetric()) != 1 {
					t.Fatalf("%s: %v", name, mf)
				}
				for _, lp := range mf.GetMetric()[0].GetLabel() {
					if lp.GetName() == "kind" || lp.GetName() == "route" {
						got[name] = lp.GetValue()
					}
				}
			}
			want := map[string]string{
				"securesign_signing_outcomes_total":        tt.want,
				"securesign_http_requests_total":           tt.want,
				"securesign_http_request_duration_seconds": tt.want,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("label values (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzMetricsLabels: whatever a label value holds, the exposition stays
// parseable and the value comes back (as valid UTF-8).
func FuzzMetricsLabels(f *testing.F) {
	for _, s := range []string{"", `\`, `"`, "\n", "\\n", "}", "\xff", "a\"b\\c\nd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m := newMetrics()
		m.outcome(v, v)
		_, fams := scrapeMetrics(t, m)
		lps := fams["securesign_signing_outcomes_total"].GetMetric()[0].GetLabel()
		want := strings.ToValidUTF8(v, "\uFFFD")
		if len(lps) != 2 || lps[0].GetValue() != want || lps[1].GetValue() != want {
			t.Errorf("labels %v, want %q twice", lps, want)
		}
	})
}

func TestMetricsLabelBound(t *testing.T) {
	const extra = 10
	tests := []struct {
		name string
		run  func(m *metrics)
		want map[string]float64 // selected series
		n    int                // securesign_http_requests_total series
	}{
		{
			name: "methods past the bound fold into OTHER; standard ones do not",
			run: func(m *metrics) {
				for i := range maxSeries {
					m.observe(fmt.Sprintf("M%04d", i), "/r", 200, 0)
				}
				for i := range extra {
					m.observe(fmt.Sprintf("LATE%d", i), "/r", 200, 0)
				}
				m.observe("M0007", "/r", 200, 0) // admitted before the bound: still its own
				m.observe("GET", "/new", 200, 0)
			},
			want: map[string]float64{
				`securesign_http_requests_total{method="OTHER",route="/r",status="200"}`: extra,
				`securesign_http_requests_total{method="M0007",route="/r",status="200"}`: 2,
				`securesign_http_requests_total{method="GET",route="/new",status="200"}`: 1,
			},
			n: maxSeries + 2,
		},
		{
			name: "long methods fold at once",
			run: func(m *metrics) {
				m.observe(strings.Repeat("A", maxMethodLen), "/r", 200, 0)
				m.observe(strings.Repeat("B", maxMethodLen+1), "/r", 200, 0)
				m.observe(strings.Repeat("C", 1<<20), "/r", 200, 0)
			},
			want: map[string]float64{
				`securesign_http_requests_total{method="` + strings.Repeat("A", maxMethodLen) + `",route="/r",status="200"}`: 1,
				`securesign_http_requests_total{method="OTHER",route="/r",status="200"}`:                                     2,
			},
			n: 2,
		},
		{
			name: "outcomes past the bound fold into other",
			run: func(m *metrics) {
				for i := range maxOutcomes + extra {
					m.outcome("k", fmt.Sprint(i))
				}
				m.outcome("k", "3")
			},
			want: map[string]float64{
				`securesign_signing_outcomes_total{kind="other",outcome="other"}`: extra,
				`securesign_signing_outcomes_total{kind="k",outcome="3"}`:         2,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics()
			tt.run(m)
			_, fams := scrapeMetrics(t, m)
			all := flatten(t, fams, "securesign_")
			got := map[string]float64{}
			for k := range tt.want {
				if v, ok := all[k]; ok {
					got[k] = v
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
			if n := len(fams["securesign_http_requests_total"].GetMetric()); n != tt.n {
				t.Errorf("%d request series, want %d", n, tt.n)
			}
		})
	}
}

// TestMetricsConcurrentObserve is for -race: observations, first
// observations of new series and scrapes at once lose no count.
func TestMetricsConcurrentObserve(t *testing.T) {
	const workers, per = 8, 2000
	m := newMetrics()
	ctx, cancel := context.WithCancel(t.Context())
	var scrapes sync.WaitGroup
	scrapes.Go(func() {
		for ctx.Err() == nil {
			rec := httptest.NewRecorder()
			m.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			p := expfmt.NewTextParser(model.LegacyValidation)
			if _, err := p.TextToMetricFamilies(rec.Body); err != nil {
				t.Errorf("parse while observing: %v", err)
				return
			}
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				method := []string{"GET", "POST", fmt.Sprintf("X%d", (w*per+i)%(2*maxSeries))}[i%3]
				m.observe(method, []string{"/a", "/b"}[i%2], 200+i%4, time.Duration(i)*time.Microsecond)
				m.outcome("session", []string{"created", "failed"}[i%2])
			}
		})
	}
	wg.Wait()
	cancel()
	scrapes.Wait()

	_, fams := scrapeMetrics(t, m)
	var requests, histCount, outcomes float64
	for _, s := range fams["securesign_http_requests_total"].GetMetric() {
		requests += s.GetCounter().GetValue()
	}
	for _, s := range fams["securesign_http_request_duration_seconds"].GetMetric() {
		h := s.GetHistogram()
		histCount += float64(h.GetSampleCount())
		if b := h.GetBucket(); len(b) == 0 || !math.IsInf(b[len(b)-1].GetUpperBound(), 1) || b[len(b)-1].GetCumulativeCount() != h.GetSampleCount() {
			t.Errorf("histogram %v: +Inf bucket is not the count", s.GetLabel())
		}
		if !sort.SliceIsSorted(h.GetBucket(), func(i, j int) bool {
			return h.GetBucket()[i].GetCumulativeCount() < h.GetBucket()[j].GetCumulativeCount()
		}) {
			t.Errorf("histogram %v: buckets not cumulative", s.GetLabel())
		}
	}
	for _, s := range fams["securesign_signing_outcomes_total"].GetMetric() {
		outcomes += s.GetCounter().GetValue()
	}
	if got := [3]float64{requests, histCount, outcomes}; got != [3]float64{workers * per, workers * per, workers * per} {
		t.Errorf("requests, histogram count, outcomes = %v, want %d each", got, workers*per)
	}
	if n := m.nseries.Load(); n > maxSeries+workers+2*2*4*2 {
		t.Errorf("%d series kept, bound %d", n, maxSeries)
	}
}

// Through the server: the route label is the router's pattern.
func TestMetricsThroughServer(t *testing.T) {
	g := newTestGW(t, nil)
	g.raw("GET", "/healthz", "", nil)
	res, body := g.raw("GET", "/metrics", "", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("metrics: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(body), `securesign_http_requests_total{method="GET",route="/healthz",status="200"} 1`+"\n") {
		t.Errorf("no /healthz series in:\n%s", body)
	}
}

// BenchmarkMetricsObserve is the per-request cost: one observe and one
// outcome, from all Ps at once.
func BenchmarkMetricsObserve(b *testing.B) {
	m := newMetrics()
	routes := []string{"/v1/sessions", "/v1/sessions/:id", "/callback", "/healthz"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.observe("POST", routes[i&3], 200+i&1, time.Duration(i&1023)*time.Microsecond)
			m.outcome("session", "created")
			i++
		}
	})
}

func BenchmarkMetricsScrape(b *testing.B) {
	m := newMetrics()
	for i := range 40 {
		m.observe("POST", fmt.Sprintf("/v1/r%d", i), 200, time.Millisecond)
		m.outcome("session", fmt.Sprint(i%8))
	}
	b.ReportAllocs()
	for b.Loop() {
		m.appendText(context.Background(), nil)
	}
}
