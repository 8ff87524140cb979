package gateway

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are the server's Prometheus metrics, written by hand in the text
// exposition format 0.0.4. client_golang (with protobuf, procfs and the
// rest) cost every CLI start about 1 ms of package init for the few
// counters served here. Each Server has its own (no package-level state).
type metrics struct {
	series    sync.Map     // seriesKey → *series
	nseries   atomic.Int64 // entries in series
	latency   sync.Map     // [2]string{method, route} → *histogram
	outcomes  sync.Map     // [2]string{kind, outcome} → *atomic.Uint64
	noutcomes atomic.Int64 // entries in outcomes
}

func newMetrics() *metrics { return &metrics{} }

// Bounds on what we keep. Methods come from clients: once maxSeries
// request series exist, a new series with a non-standard method counts
// under method "OTHER" instead (as does any non-standard method longer
// than maxMethodLen, at once). Standard methods always keep their own
// series: routes are the router's patterns and statuses three digits, so
// those are bounded already. Concurrent first observations may overshoot
// a bound by a few entries; they never lose a count.
const (
	maxSeries    = 1024
	maxMethodLen = 32
	otherMethod  = "OTHER"
	maxOutcomes  = 256 // kinds and outcomes are the gateway's own: few
	otherOutcome = "other"
)

// latencyBounds are the upper bounds of the latency histogram's buckets
// (read-only).
var latencyBounds = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

type seriesKey struct {
	method, route string
	status        int
}

// series is one method, route and status: its request count and the
// latency histogram of its method and route (shared across statuses).
type series struct {
	requests atomic.Uint64
	latency  *histogram
}

// histogram counts per bucket, not cumulatively, so an observation is
// one atomic add; exposition sums them, and derives _count from them so
// that _count always equals the +Inf bucket.
type histogram struct {
	buckets  [len(latencyBounds) + 1]atomic.Uint64 // the last is +Inf
	sumNanos atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNanos.Add(int64(d))
}

// observe records one request. It runs on every request: a lock-free
// map load and three atomic adds once the series exists.
func (m *metrics) observe(method, route string, status int, d time.Duration) {
	s := m.seriesFor(seriesKey{method, route, status})
	s.requests.Add(1)
	s.latency.observe(d)
}

func (m *metrics) seriesFor(k seriesKey) *series {
	if v, ok := m.series.Load(k); ok {
		return v.(*series)
	}
	if !standardMethod(k.method) && (len(k.method) > maxMethodLen || m.nseries.Load() >= maxSeries) {
		k.method = otherMethod
		if v, ok := m.series.Load(k); ok {
			return v.(*series)
		}
	}
	h, _ := m.latency.LoadOrStore([2]string{k.method, k.route}, new(histogram))
	v, loaded := m.series.LoadOrStore(k, &series{latency: h.(*histogram)})
	if !loaded {
		m.nseries.Add(1)
	}
	return v.(*series)
}

func standardMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// outcome counts one signing outcome.
func (m *metrics) outcome(kind, outcome string) {
	k := [2]string{kind, outcome}
	v, ok := m.outcomes.Load(k)
	if !ok {
		if m.noutcomes.Load() >= maxOutcomes {
			k = [2]string{otherOutcome, otherOutcome}
		}
		var loaded bool
		if v, loaded = m.outcomes.LoadOrStore(k, new(atomic.Uint64)); !loaded {
			m.noutcomes.Add(1)
		}
	}
	v.(*atomic.Uint64).Add(1)
}

// handler serves the metrics in the text exposition format.
func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := m.appendText(r.Context(), make([]byte, 0, 16<<10))
		h := w.Header()
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b) //nolint:errcheck // the scraper went away
	})
}

// appendText appends every metric family, sorted by name, each series
// sorted by its label values, so that equal states expose equal text.
func (m *metrics) appendText(ctx context.Context, b []byte) []byte {
	b = appendGoMetrics(b)
	b = appendProcessMetrics(ctx, b)
	b = m.appendLatency(b)
	b = m.appendRequests(b)
	return m.appendOutcomes(b)
}

func (m *metrics) appendLatency(b []byte) []byte {
	type entry struct {
		method, route string
		h             *histogram
	}
	var hs []entry
	m.latency.Range(func(k, v any) bool {
		kk := k.([2]string)
		hs = append(hs, entry{kk[0], kk[1], v.(*histogram)})
		return true
	})
	if len(hs) == 0 {
		return b
	}
	slices.SortFunc(hs, func(x, y entry) int {
		return cmpPairs(x.method, x.route, y.method, y.route)
	})
	const name = "securesign_http_request_duration_seconds"
	b = appendHeader(b, name, "HTTP request latency by method and route.", "histogram")
	for _, e := range hs {
		labels := appendLabel(appendLabel(nil, "method", e.method), "route", e.route)
		var cum uint64
		for i := range e.h.buckets {
			cum += e.h.buckets[i].Load()
			le := math.Inf(1)
			if i < len(latencyBounds) {
				le = latencyBounds[i].Seconds()
			}
			// appendLabel may reuse labels' spare capacity: fine, as
			// appendSample copies the result before the next bucket.
			b = appendSample(b, name+"_bucket", appendLabel(labels, "le", formatFloat(le)), float64(cum))
		}
		b = appendSample(b, name+"_sum", labels, time.Duration(e.h.sumNanos.Load()).Seconds())
		b = appendSample(b, name+"_count", labels, float64(cum))
	}
	return b
}

func (m *metrics) appendRequests(b []byte) []byte {
	type entry struct {
		k seriesKey
		n uint64
	}
	var ss []entry
	m.series.Range(func(k, v any) bool {
		ss = append(ss, entry{k.(seriesKey), v.(*series).requests.Load()})
		return true
	})
	if len(ss) == 0 {
		return b
	}
	slices.SortFunc(ss, func(x, y entry) int {
		if c := cmpPairs(x.k.method, x.k.route, y.k.method, y.k.route); c != 0 {
			return c
		}
		return cmp.Compare(x.k.status, y.k.status)
	})
	const name = "securesign_http_requests_total"
	b = appendHeader(b, name, "HTTP requests by method, route and status.", "counter")
	for _, e := range ss {
		labels := appendLabel(appendLabel(appendLabel(nil, "method", e.k.method), "route", e.k.route), "status", strconv.Itoa(e.k.status))
		b = appendSample(b, name, labels, float64(e.n))
	}
	return b
}

func (m *metrics) appendOutcomes(b []byte) []byte {
	type entry struct {
		kind, outcome string
		n             uint64
	}
	var es []entry
	m.outcomes.Range(func(k, v any) bool {
		kk := k.([2]string)
		es = append(es, entry{kk[0], kk[1], v.(*atomic.Uint64).Load()})
		return true
	})
	if len(es) == 0 {
		return b
	}
	slices.SortFunc(es, func(x, y entry) int { return cmpPairs(x.kind, x.outcome, y.kind, y.outcome) })
	const name = "securesign_signing_outcomes_total"
	b = appendHeader(b, name, "Signing outcomes by kind (session, callback, remote, csc) and outcome.", "counter")
	for _, e := range es {
		b = appendSample(b, name, appendLabel(appendLabel(nil, "kind", e.kind), "outcome", e.outcome), float64(e.n))
	}
	return b
}

func cmpPairs(a1, a2, b1, b2 string) int {
	if c := strings.Compare(a1, b1); c != 0 {
		return c
	}
	return strings.Compare(a2, b2)
}

// appendGoMetrics appends the Go runtime's figures, named as
// client_golang's Go collector names them. runtime/metrics reads them
// without stopping the world (runtime.ReadMemStats would).
func appendGoMetrics(b []byte) []byte {
	samples := []rtmetrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/gogc:percent"},
		{Name: "/gc/gomemlimit:bytes"},
		{Name: "/sched/goroutines:goroutines"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/sched/gomaxprocs:threads"},
	}
	rtmetrics.Read(samples)
	value := func(i int) (float64, bool) {
		if samples[i].Value.Kind() != rtmetrics.KindUint64 {
			return 0, false // not in this Go version
		}
		return float64(samples[i].Value.Uint64()), true
	}
	single := func(i int, name, help, typ string) {
		if v, ok := value(i); ok {
			b = appendHeader(b, name, help, typ)
			b = appendSample(b, name, nil, v)
		}
	}
	single(0, "go_gc_cycles_total", "Count of completed GC cycles. Sourced from /gc/cycles/total:gc-cycles.", "counter")
	single(1, "go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. Sourced from /gc/gogc:percent.", "gauge")
	single(2, "go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. Sourced from /gc/gomemlimit:bytes.", "gauge")
	single(3, "go_goroutines", "Number of goroutines that currently exist.", "gauge")
	b = appendHeader(b, "go_info", "Information about the Go environment.", "gauge")
	b = appendSample(b, "go_info", appendLabel(nil, "version", runtime.Version()), 1)
	single(4, "go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use. Equals to /memory/classes/heap/objects:bytes.", "gauge")
	var gc debug.GCStats
	debug.ReadGCStats(&gc)
	lastGC := 0.0
	if !gc.LastGC.IsZero() {
		lastGC = float64(gc.LastGC.UnixNano()) / 1e9
	}
	b = appendHeader(b, "go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", "gauge")
	b = appendSample(b, "go_memstats_last_gc_time_seconds", nil, lastGC)
	single(5, "go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:bytes.", "gauge")
	single(6, "go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting. Sourced from /sched/gomaxprocs:threads.", "gauge")
	threads, _ := runtime.ThreadCreateProfile(nil)
	b = appendHeader(b, "go_threads", "Number of OS threads created.", "gauge")
	return appendSample(b, "go_threads", nil, float64(threads))
}

// appendProcessMetrics appends the process_* figures client_golang's
// process collector gives on Linux, from /proc/self; elsewhere (and if
// /proc cannot be read) it appends nothing rather than fail the scrape.
func appendProcessMetrics(ctx context.Context, b []byte) []byte {
	if runtime.GOOS != "linux" || ctx.Err() != nil {
		return b
	}
	st, stErr := readProcStat()
	if stErr == nil {
		b = appendHeader(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter")
		b = appendSample(b, "process_cpu_seconds_total", nil, st.cpuSeconds)
	}
	if n, err := readMaxFDs(); err == nil {
		b = appendHeader(b, "process_max_fds", "Maximum number of open file descriptors.", "gauge")
		b = appendSample(b, "process_max_fds", nil, n)
	}
	if n, err := countOpenFDs(); err == nil {
		b = appendHeader(b, "process_open_fds", "Number of open file descriptors.", "gauge")
		b = appendSample(b, "process_open_fds", nil, float64(n))
	}
	if stErr != nil {
		return b
	}
	b = appendHeader(b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge")
	b = appendSample(b, "process_resident_memory_bytes", nil, st.rssBytes)
	if st.startTime > 0 {
		b = appendHeader(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge")
		b = appendSample(b, "process_start_time_seconds", nil, st.startTime)
	}
	b = appendHeader(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge")
	return appendSample(b, "process_virtual_memory_bytes", nil, st.vsizeBytes)
}

// userHZ is the unit of /proc/PID/stat's times: USER_HZ is 100 on every
// Linux ABI Go supports (procfs assumes the same).
const userHZ = 100

var errProcFormat = errors.New("gateway: unexpected /proc format")

type procStat struct {
	cpuSeconds, startTime, vsizeBytes, rssBytes float64
}

func readProcStat() (procStat, error) {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("gateway: reading process stat: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold anything:
	// fields are counted from the last ')'; f[0] is field 3 (state).
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procStat{}, errProcFormat
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 22 {
		return procStat{}, errProcFormat
	}
	var n [5]uint64 // utime, stime, starttime, vsize, rss
	for j, field := range []int{14, 15, 22, 23, 24} {
		if n[j], err = strconv.ParseUint(f[field-3], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("%w: stat field %d: %w", errProcFormat, field, err)
		}
	}
	st := procStat{
		cpuSeconds: float64(n[0]+n[1]) / userHZ,
		vsizeBytes: float64(n[3]),
		rssBytes:   float64(n[4]) * float64(os.Getpagesize()),
	}
	if boot, err := bootTime(); err == nil {
		st.startTime = float64(boot) + float64(n[2])/userHZ
	}
	return st, nil
}

// bootTime is /proc/stat's btime: the start time in /proc/self/stat is
// in ticks since boot.
func bootTime() (uint64, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("gateway: reading boot time: %w", err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errProcFormat
}

// readMaxFDs is the soft limit on open files ("unlimited" is +Inf).
func readMaxFDs() (float64, error) {
	raw, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return 0, fmt.Errorf("gateway: reading limits: %w", err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			if f[0] == "unlimited" {
				return math.Inf(1), nil
			}
			return strconv.ParseFloat(f[0], 64)
		}
	}
	return 0, errProcFormat
}

// countOpenFDs counts /proc/self/fd's entries (names only: no stat per
// descriptor). The directory's own descriptor is among them, as with
// client_golang.
func countOpenFDs() (int, error) {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("gateway: listing descriptors: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, fmt.Errorf("gateway: listing descriptors: %w", err)
	}
	return len(names), nil
}

// appendHeader appends the # HELP and # TYPE lines. Help texts are this
// file's constants: none holds a backslash or newline to escape.
func appendHeader(b []byte, name, help, typ string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// appendLabel appends name="value" to a label list (comma-separated,
// without braces), escaping the value as the format requires; invalid
// UTF-8 becomes U+FFFD, since the format is UTF-8.
func appendLabel(labels []byte, name, value string) []byte {
	if len(labels) > 0 {
		labels = append(labels, ',')
	}
	labels = append(labels, name...)
	labels = append(labels, '=', '"')
	value = strings.ToValidUTF8(value, "\uFFFD")
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\\':
			labels = append(labels, `\\`...)
		case '"':
			labels = append(labels, `\"`...)
		case '\n':
			labels = append(labels, `\n`...)
		default:
			labels = append(labels, c)
		}
	}
	return append(labels, '"')
}

func appendSample(b []byte, name string, labels []byte, v float64) []byte {
	b = append(b, name...)
	if len(labels) > 0 {
		b = append(b, '{')
		b = append(b, labels...)
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = append(b, formatFloat(v)...)
	return append(b, '\n')
}

// formatFloat writes v as the format (and Go's ParseFloat) reads it.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
