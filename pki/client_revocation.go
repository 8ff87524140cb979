package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// RevocationState is the revocation status of a certificate.
type RevocationState string

// The revocation states.
const (
	StateGood    RevocationState = "good"
	StateRevoked RevocationState = "revoked"
	StateUnknown RevocationState = "unknown"
)

// Sources of a RevocationStatus.
const (
	SourceOCSP         = "ocsp"
	SourceCRL          = "crl"
	SourceEmbeddedOCSP = "embedded-ocsp"
	SourceEmbeddedCRL  = "embedded-crl"
)

// RevocationStatus is the answer about one certificate.
type RevocationStatus struct {
	State RevocationState
	// Source is "ocsp", "crl", "embedded-ocsp" or "embedded-crl"; empty
	// when State is unknown.
	Source string
	// RevokedAt and Reason (an RFC 5280 CRLReason) are set for revoked
	// certificates.
	RevokedAt time.Time
	Reason    int
	// OCSPResponse or CRL is the raw DER the answer came from, to embed in
	// a PDF's DSS.
	OCSPResponse, CRL      []byte
	ThisUpdate, NextUpdate time.Time
}

// RevocationOptions configures a RevocationChecker. The zero value is usable:
// soft fail, 10 s timeout, 10 MiB limit, 10 min cache.
type RevocationOptions struct {
	// HTTPClient fetches OCSP and CRL answers; nil means a default client.
	// Redirects are only followed to http(s) URLs.
	HTTPClient *http.Client
	// Timeout bounds each request; 0 means 10 s.
	Timeout time.Duration
	// MaxResponseBytes bounds each OCSP response or CRL; 0 means 10 MiB.
	MaxResponseBytes int64
	// HardFail makes Check return ErrRevocationUnknown when no source
	// answers; otherwise it returns an unknown status and no error. A
	// certificate that names no OCSP responder and no CRL distribution
	// point (typically an intermediate under a private root) cannot be
	// checked and is reported unknown without error either way.
	HardFail bool
	// CacheTTL bounds how long an answer is reused (never past the
	// answer's nextUpdate); 0 means 10 min, negative disables the cache.
	CacheTTL time.Duration
	// DisableOCSP and DisableCRL skip a source.
	DisableOCSP, DisableCRL bool
	// Responders, when set, decides which delegated OCSP responders count,
	// online and in CheckEmbedded (see [ResponderPolicy]); nil believes
	// every responder RFC 6960 allows.
	Responders ResponderPolicy
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// clockSkew is tolerated between our clock and a responder's.
const clockSkew = 5 * time.Minute

// RevocationChecker finds out whether certificates are revoked, over OCSP
// first and then CRLs, caching answers by certificate and issuer. It is safe
// for concurrent use. It satisfies pdf.RevocationSource.
type RevocationChecker struct {
	opts   RevocationOptions
	client *http.Client

	mu    sync.Mutex
	cache map[[64]byte]cacheEntry
}

type cacheEntry struct {
	status  RevocationStatus
	expires time.Time
}

// NewRevocationChecker returns a checker configured by opts.
func NewRevocationChecker(opts RevocationOptions) *RevocationChecker {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 10 << 20
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &RevocationChecker{
		opts:   opts,
		client: safeClient(opts.HTTPClient, opts.Timeout),
		cache:  make(map[[64]byte]cacheEntry),
	}
}

func cacheKey(cert, issuer *x509.Certificate) [64]byte {
	var k [64]byte
	a, b := sha256.Sum256(cert.Raw), sha256.Sum256(issuer.Raw)
	copy(k[:32], a[:])
	copy(k[32:], b[:])
	return k
}

// Check returns the revocation status of cert, issued by issuer, asking the
// certificate's OCSP responders first and then its CRL distribution points
// (http and https URLs only). A revoked certificate is a status, not an
// error. When no source answers, Check returns an unknown status and, with
// HardFail, an error wrapping ErrRevocationUnknown that says why.
func (rc *RevocationChecker) Check(ctx context.Context, cert, issuer *x509.Certificate) (*RevocationStatus, error) {
	if cert == nil || issuer == nil {
		return nil, errors.New("pki: Check needs a certificate and its issuer")
	}
	now := rc.opts.Now()
	key := cacheKey(cert, issuer)
	if rc.opts.CacheTTL > 0 {
		rc.mu.Lock()
		e, ok := rc.cache[key]
		if ok && now.After(e.expires) {
			delete(rc.cache, key)
			ok = false
		}
		rc.mu.Unlock()
		if ok {
			st := e.status
			return &st, nil
		}
	}

	var errs []error
	var st *RevocationStatus
	if !rc.opts.DisableOCSP {
		for _, u := range cert.OCSPServer {
			s, err := rc.checkOCSP(ctx, u, cert, issuer, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("OCSP %s: %w", u, err))
				continue
			}
			if s.State != StateUnknown {
				st = s
				break
			}
			errs = append(errs, fmt.Errorf("OCSP %s: status unknown", u))
		}
	}
	if st == nil && !rc.opts.DisableCRL {
		for _, u := range cert.CRLDistributionPoints {
			s, err := rc.checkCRL(ctx, u, cert, issuer, now)
			if err != nil {
				errs = append(errs, fmt.Errorf("CRL %s: %w", u, err))
				continue
			}
			st = s
			break
		}
	}
	if st == nil {
		unknown := &RevocationStatus{State: StateUnknown}
		if len(errs) == 0 {
			// The issuer declared no revocation source (or only disabled
			// ones): there is nothing to fail on.
			return unknown, nil
		}
		if rc.opts.HardFail {
			return unknown, fmt.Errorf("%w: certificate %x: %w", ErrRevocationUnknown, cert.SerialNumber, errors.Join(errs...))
		}
		return unknown, nil
	}
	if rc.opts.CacheTTL > 0 {
		exp := now.Add(rc.opts.CacheTTL)
		if !st.NextUpdate.IsZero() && st.NextUpdate.Before(exp) {
			exp = st.NextUpdate
		}
		rc.mu.Lock()
		rc.cache[key] = cacheEntry{status: *st, expires: exp}
		rc.mu.Unlock()
	}
	return st, nil
}

func (rc *RevocationChecker) checkOCSP(ctx context.Context, url string, cert, issuer *x509.Certificate, now time.Time) (*RevocationStatus, error) {
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, err
	}
	body, err := doHTTP(ctx, rc.client, http.MethodPost, url, "application/ocsp-request", req, rc.opts.MaxResponseBytes)
	if err != nil {
		return nil, err
	}
	resp, err := parseOCSP(body, cert, issuer, rc.opts.Responders)
	if err != nil {
		return nil, err
	}
	if resp.ThisUpdate.After(now.Add(clockSkew)) {
		return nil, fmt.Errorf("response thisUpdate %v is in the future", resp.ThisUpdate)
	}
	if !resp.NextUpdate.IsZero() && resp.NextUpdate.Before(now.Add(-clockSkew)) {
		return nil, fmt.Errorf("response is stale: nextUpdate %v", resp.NextUpdate)
	}
	return ocspStatus(resp, SourceOCSP), nil
}

// parseOCSP parses and checks an OCSP response about cert: signed by issuer
// or by a responder certificate that issuer signed for OCSP signing and
// that policy (when not nil) believes.
func parseOCSP(der []byte, cert, issuer *x509.Certificate, policy ResponderPolicy) (*ocsp.Response, error) {
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return nil, err
	}
	if resp.Certificate != nil && !bytes.Equal(resp.Certificate.Raw, issuer.Raw) {
		ok := false
		for _, u := range resp.Certificate.ExtKeyUsage {
			ok = ok || u == x509.ExtKeyUsageOCSPSigning
		}
		if !ok {
			return nil, errors.New("OCSP responder certificate lacks the OCSPSigning extended key usage")
		}
		if t := resp.ThisUpdate; t.Before(resp.Certificate.NotBefore) || t.After(resp.Certificate.NotAfter) {
			return nil, fmt.Errorf("OCSP responder certificate was not valid at thisUpdate %v", t)
		}
		if policy != nil {
			if err := policy(issuer, resp.Certificate); err != nil {
				return nil, err
			}
		}
	}
	// The CertID must name this issuer, not just this serial.
	id, err := certIDOf(der, cert.SerialNumber)
	if err != nil {
		return nil, err
	}
	nh, kh, err := issuerHashes(issuer, resp.IssuerHash)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(id.NameHash, nh) || !bytes.Equal(id.IssuerKeyHash, kh) {
		return nil, errors.New("OCSP response is about a certificate of another issuer")
	}
	return resp, nil
}

func ocspStatus(resp *ocsp.Response, source string) *RevocationStatus {
	st := &RevocationStatus{
		Source:       source,
		OCSPResponse: resp.Raw,
		ThisUpdate:   resp.ThisUpdate,
		NextUpdate:   resp.NextUpdate,
	}
	switch resp.Status {
	case ocsp.Good:
		st.State = StateGood
	case ocsp.Revoked:
		st.State = StateRevoked
		st.RevokedAt = resp.RevokedAt
		st.Reason = resp.RevocationReason
	default:
		st.State = StateUnknown
	}
	return st
}

func (rc *RevocationChecker) checkCRL(ctx context.Context, url string, cert, issuer *x509.Certificate, now time.Time) (*RevocationStatus, error) {
	body, err := doHTTP(ctx, rc.client, http.MethodGet, url, "", nil, rc.opts.MaxResponseBytes)
	if err != nil {
		return nil, err
	}
	st, err := crlStatus(body, cert, issuer, SourceCRL)
	if err != nil {
		return nil, err
	}
	if !st.NextUpdate.IsZero() && st.NextUpdate.Before(now.Add(-clockSkew)) {
		return nil, fmt.Errorf("CRL is stale: nextUpdate %v", st.NextUpdate)
	}
	return st, nil
}

// crlStatus looks cert up in a DER (or PEM) CRL that issuer must have signed.
func crlStatus(der []byte, cert, issuer *x509.Certificate, source string) (*RevocationStatus, error) {
	if b, _ := pem.Decode(der); b != nil && b.Type == "X509 CRL" {
		der = b.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return nil, errors.New("CRL is from another issuer")
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("CRL signature: %w", err)
	}
	st := &RevocationStatus{State: StateGood, Source: source, CRL: der, ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			st.State = StateRevoked
			st.RevokedAt = e.RevocationTime
			st.Reason = e.ReasonCode
			break
		}
	}
	return st, nil
}

// CheckEmbedded returns the revocation status of cert using only the given
// DER OCSP responses and CRLs (for example from a PDF's DSS), as of time at
// (zero means now). Answers about other certificates, from other issuers or
// with bad signatures are skipped. A certificate revoked after at is
// reported good, with RevokedAt set. Without a usable answer the status is
// unknown; with HardFail the error wraps ErrRevocationUnknown.
func (rc *RevocationChecker) CheckEmbedded(cert, issuer *x509.Certificate, ocsps, crls [][]byte, at time.Time) (*RevocationStatus, error) {
	if cert == nil || issuer == nil {
		return nil, errors.New("pki: CheckEmbedded needs a certificate and its issuer")
	}
	if at.IsZero() {
		at = time.Now()
		if rc != nil {
			at = rc.opts.Now()
		}
	}
	var policy ResponderPolicy
	if rc != nil {
		policy = rc.opts.Responders
	}
	st := embeddedStatus(cert, issuer, ocsps, crls, at, policy)
	if st.State == StateUnknown && rc != nil && rc.opts.HardFail {
		return st, fmt.Errorf("%w: certificate %x: no embedded OCSP response or CRL covers it", ErrRevocationUnknown, cert.SerialNumber)
	}
	return st, nil
}

func embeddedStatus(cert, issuer *x509.Certificate, ocsps, crls [][]byte, at time.Time, policy ResponderPolicy) *RevocationStatus {
	var best *RevocationStatus
	for _, der := range ocsps {
		resp, err := parseOCSP(der, cert, issuer, policy)
		if err != nil || resp.Status == ocsp.Unknown {
			continue
		}
		s := ocspStatus(resp, SourceEmbeddedOCSP)
		if best == nil || s.ThisUpdate.After(best.ThisUpdate) {
			best = s
		}
	}
	if best == nil {
		for _, der := range crls {
			s, err := crlStatus(der, cert, issuer, SourceEmbeddedCRL)
			if err != nil {
				continue
			}
			if best == nil || s.ThisUpdate.After(best.ThisUpdate) {
				best = s
			}
		}
	}
	if best == nil {
		return &RevocationStatus{State: StateUnknown}
	}
	if best.State == StateRevoked && best.RevokedAt.After(at) {
		best.State = StateGood
	}
	return best
}
