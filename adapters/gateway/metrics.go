package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in its own registry (no
// package-level state, so tests can run several servers).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	outcomes *prometheus.CounterVec

	// The children of requests, latency and outcomes by their labels:
	// WithLabelValues hashes and locks on every call, several times a
	// request.
	routes          sync.Map // routeKey → *routeMetrics
	nroutes         atomic.Int64
	outcomeChildren sync.Map // [2]string → prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "securesign_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "securesign_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "securesign_signing_outcomes_total", Help: "Signing outcomes by kind (session, callback, remote, csc) and outcome.",
		}, []string{"kind", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.outcomes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// routeMetrics are the children of one method, route and status.
type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

type routeKey struct {
	method, route string
	status        int
}

// maxCachedChildren bounds the children kept aside (methods come from
// clients); past it, observe looks them up each time.
const maxCachedChildren = 1024

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	k := routeKey{method, route, status}
	var rm *routeMetrics
	if v, ok := m.routes.Load(k); ok {
		rm = v.(*routeMetrics)
	} else {
		rm = &routeMetrics{m.requests.WithLabelValues(method, route, strconv.Itoa(status)), m.latency.WithLabelValues(method, route)}
		if m.nroutes.Add(1) <= maxCachedChildren {
			m.routes.Store(k, rm)
		}
	}
	rm.requests.Inc()
	rm.latency.Observe(d.Seconds())
}

func (m *metrics) outcome(kind, outcome string) {
	k := [2]string{kind, outcome}
	if v, ok := m.outcomeChildren.Load(k); ok {
		v.(prometheus.Counter).Inc()
		return
	}
	c := m.outcomes.WithLabelValues(kind, outcome)
	m.outcomeChildren.Store(k, c) // kinds and outcomes are the gateway's own: few
	c.Inc()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
