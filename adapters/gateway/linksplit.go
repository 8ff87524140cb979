package gateway

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/securesign/securesign/deeplink"
)

// linkSpan is one link's share of a request's digests: Count digests from
// index First, in request order.
type linkSpan struct{ First, Count int }

// splitDigests decides which digests go into which link. fixed is the
// length of a link without any hashBase64 parameter (everything else of it:
// requestId, callbackUrl, origin, exp, doc, kid, sig, ...), costs[i] the
// bytes digest i adds ("&hashBase64=" and its percent-encoded value). The
// digests are taken in order, as many per link as fit maxPer and budget
// bytes; a link never starts empty. It fails when one digest alone does
// not fit, since then no split helps (a long doc or callbackUrl).
func splitDigests(fixed int, costs []int, maxPer, budget int) ([]linkSpan, error) {
	if maxPer < 1 {
		return nil, fmt.Errorf("at most %d digests per link", maxPer)
	}
	var spans []linkSpan
	for i, c := range costs {
		if fixed+c > budget {
			return nil, fmt.Errorf("digest %d needs a link of %d bytes, more than %d", i+1, fixed+c, budget)
		}
		last := len(spans) - 1
		if last < 0 || spans[last].Count == maxPer || fixed+spanCost(costs, spans[last])+c > budget {
			spans = append(spans, linkSpan{First: i})
			last++
		}
		spans[last].Count++
	}
	return spans, nil
}

func spanCost(costs []int, sp linkSpan) int {
	n := 0
	for _, c := range costs[sp.First : sp.First+sp.Count] {
		n += c
	}
	return n
}

// digestCost is what a digest adds to a link: "&hashBase64=" and its
// standard base64, where '+', '/' and '=' are percent-encoded (3 bytes).
func digestCost(d []byte) int {
	b := base64.StdEncoding.EncodeToString(d)
	return len("&"+deeplink.ParamHash+"=") + len(b) + 2*(strings.Count(b, "+")+strings.Count(b, "/")+strings.Count(b, "="))
}

// splitHashSpec plans the links of a hash sign request: it builds the link
// of the first digest alone, exactly as createSession will (same origin,
// same length of requestId and exp, same key), and takes everything but
// that digest as the fixed part. A request that fits one link gets one
// span.
func (s *Server) splitHashSpec(c echo.Context, spec *sessionSpec) ([]linkSpan, error) {
	if len(spec.Hashes) == 0 {
		return nil, badRequest("no digest to sign")
	}
	probe := *spec
	origin, err := s.checkURLs(c.Request().Context(), who(c).TenantID, &probe)
	if err != nil {
		return nil, err
	}
	if probe.CertSerial != "" {
		if probe.CertSerial, err = normalizeSerial(probe.CertSerial); err != nil {
			return nil, err
		}
	}
	probe.Hashes = spec.Hashes[:1]
	sess := &Session{RequestID: newRequestID(), Origin: origin, Hashes: probe.Hashes,
		ExpiresAt: s.cfg.Now().Add(s.cfg.SessionTTL).Truncate(time.Second)}
	if probe.HashAlgo == "" {
		probe.HashAlgo = "SHA256"
	}
	// The probe is built as createSession builds the real links: with the
	// tenant's key and org, which count towards the 2048 bytes.
	ctx := c.Request().Context()
	key, err := s.links.forTenant(ctx, who(c).TenantID, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	req := linkRequest(&probe, sess)
	req.Org = s.tenantOrg(ctx, who(c).TenantID)
	link, err := deeplink.Build(req, key)
	if err != nil {
		return nil, unprocessable(err, "cannot build the deep link: %v", err)
	}
	costs := make([]int, len(spec.Hashes))
	for i, h := range spec.Hashes {
		costs[i] = digestCost(h)
	}
	spans, err := splitDigests(len(link)-costs[0], costs, deeplink.MaxHashes, deeplink.MaxLinkLength)
	if err != nil {
		return nil, unprocessable(err, "cannot build the deep links: %v", err)
	}
	return spans, nil
}

// splitSessionAnswer is the answer to a hash request split over several
// links: the first link's members at the top, as for one link, so that a
// client written for one link keeps working, and every link in Sessions.
type splitSessionAnswer struct {
	*sessionAnswerBody
	Sessions []splitSessionItem `json:"sessions"`
}

type splitSessionItem struct {
	*sessionAnswerBody
	First int `json:"first"`
	Count int `json:"count"`
}

// createHashSessions opens one session per link for spec's digests, in
// order. All the sessions are counted against the tenant's open-session
// limit before any is made.
func (s *Server) createHashSessions(c echo.Context, spec *sessionSpec) (int, any, error) {
	spans, err := s.splitHashSpec(c, spec)
	if err != nil {
		return 0, nil, err
	}
	if len(spans) == 1 {
		sess, err := s.createSession(c, spec)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, s.sessionAnswer(sess), nil
	}
	p := who(c)
	n, err := s.openSessions.count(c.Request().Context(), s.store, p.TenantID, s.cfg.Now())
	if err != nil {
		return 0, nil, err
	}
	if n+len(spans) > s.cfg.MaxOpenSessions {
		return 0, nil, apiErr(http.StatusTooManyRequests, CodeTooManySessions,
			"the tenant has %d open sessions; %d more would pass the limit of %d", n, len(spans), s.cfg.MaxOpenSessions)
	}
	out := &splitSessionAnswer{}
	for _, sp := range spans {
		one := *spec
		one.Hashes = spec.Hashes[sp.First : sp.First+sp.Count]
		sess, err := s.createSession(c, &one)
		if err != nil {
			return 0, nil, err
		}
		out.Sessions = append(out.Sessions, splitSessionItem{sessionAnswerBody: s.sessionAnswer(sess), First: sp.First, Count: sp.Count})
	}
	out.sessionAnswerBody = out.Sessions[0].sessionAnswerBody
	return http.StatusCreated, out, nil
}
