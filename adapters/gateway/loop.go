package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/securesign/securesign/pki"
)

// loopTransport answers requests for the gateway's own PKI endpoints
// in-process (timestamps and OCSP answers for its own certificates cost no
// network round trip and work before the listener is reachable); other
// URLs go to the network.
type loopTransport struct {
	prefix string // e.g. "http://127.0.0.1:8080/pki/"
	h      http.Handler
	next   http.RoundTripper
}

func (t *loopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.String(), t.prefix) {
		return t.next.RoundTrip(r)
	}
	rec := httptest.NewRecorder()
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + strings.TrimPrefix(r.URL.String(), t.prefix)
	if i := strings.IndexByte(r2.URL.Path, '?'); i >= 0 {
		r2.URL.Path = r2.URL.Path[:i]
	}
	r2.RequestURI = r2.URL.Path
	t.h.ServeHTTP(rec, r2)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// setupPKIClients makes the TSA client and revocation checkers.
func (s *Server) setupPKIClients() {
	client := &http.Client{Timeout: 15 * time.Second, Transport: &loopTransport{prefix: s.baseURL + "/pki/", h: s.ca.Handler(), next: http.DefaultTransport}}
	s.tsa = &pki.TSAClient{URL: s.baseURL + "/pki/tsa", HTTPClient: client}
	// About the gateway CA's certificates only its own responders count.
	responders := s.services.responders
	s.ltRevocation = pki.NewRevocationChecker(pki.RevocationOptions{HTTPClient: client, Timeout: 10 * time.Second, CacheTTL: 5 * time.Minute, Responders: responders})
	switch s.cfg.Revocation {
	case "off":
	case "hard":
		s.revocation = pki.NewRevocationChecker(pki.RevocationOptions{HTTPClient: client, Timeout: 10 * time.Second, HardFail: true, CacheTTL: 5 * time.Minute, Responders: responders})
	default:
		s.revocation = s.ltRevocation
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
