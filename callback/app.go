package callback

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/signer"
)

// NewSuccess builds the result of a successful signing: the signatures in
// the order of the link's digests (one for register), the signer
// certificate and its intermediates (leaf excluded), and the algorithm
// used. signedAt zero means now.
func NewSuccess(requestID string, alg signer.Algorithm, sigs [][]byte, cert *x509.Certificate, chain []*x509.Certificate, signedAt time.Time) (*Result, error) {
	if requestID == "" || len(sigs) == 0 || cert == nil {
		return nil, errors.New("callback: NewSuccess needs a requestId, signatures and the certificate")
	}
	if signedAt.IsZero() {
		signedAt = time.Now()
	}
	r := &Result{
		RequestID: requestID,
		Success:   true,
		SignedAt:  signedAt.UTC().Format(time.RFC3339),
		Certificate: &CertSummary{
			SubjectCN:    cert.Subject.CommonName,
			SerialNumber: fmt.Sprintf("%x", cert.SerialNumber),
			ValidTo:      cert.NotAfter.UTC().Format(time.DateOnly),
		},
		V:                 Version,
		SignAlgo:          string(alg),
		CertificateBase64: base64.StdEncoding.EncodeToString(cert.Raw),
	}
	for _, s := range sigs {
		r.SignaturesBase64 = append(r.SignaturesBase64, base64.StdEncoding.EncodeToString(s))
	}
	r.SignatureBase64 = r.SignaturesBase64[0]
	for _, c := range chain {
		r.ChainBase64 = append(r.ChainBase64, base64.StdEncoding.EncodeToString(c.Raw))
	}
	return r, nil
}

// NewFailure builds the result of a failed request: the code is
// CodeOf(err), the message err's text, and pinTriesLeft comes from a
// *signer.PINError when the token told.
func NewFailure(requestID string, err error) *Result {
	if err == nil {
		err = errors.New("unknown failure")
	}
	r := &Result{RequestID: requestID, Error: CodeOf(err), Message: err.Error(), V: Version}
	var pe *signer.PINError
	if errors.As(err, &pe) && pe.TriesLeft >= 0 && r.Error == CodePINInvalid {
		n := pe.TriesLeft
		r.PINTriesLeft = &n
	}
	return r
}

// RedirectURL returns callbackURL with ss_result appended as a query
// parameter, for a mobile app to open. A result longer than
// MaxRedirectSize encoded is refused with ErrRedirectTooLarge: deliver it
// by POST.
func RedirectURL(callbackURL string, r *Result) (string, error) {
	if _, err := deeplink.ValidateCallbackURL(callbackURL); err != nil {
		return "", err
	}
	enc, err := Encode(r)
	if err != nil {
		return "", err
	}
	if len(enc) > MaxRedirectSize {
		return "", fmt.Errorf("%w: %d characters, at most %d", ErrRedirectTooLarge, len(enc), MaxRedirectSize)
	}
	sep := "?"
	if strings.Contains(callbackURL, "?") {
		sep = "&"
		if strings.HasSuffix(callbackURL, "?") || strings.HasSuffix(callbackURL, "&") {
			sep = ""
		}
	}
	return callbackURL + sep + "ss_result=" + url.QueryEscape(enc), nil
}

// Deliver POSTs r to callbackURL with a default Deliverer: retries on
// network errors and 5xx for up to two minutes.
func Deliver(ctx context.Context, client *http.Client, callbackURL string, r *Result) error {
	return (&Deliverer{Client: client}).Deliver(ctx, callbackURL, r)
}

// Deliverer POSTs results with retries. The zero value is ready: default
// HTTP client, two minutes of retries, backoff from 500 ms doubling to 15 s.
type Deliverer struct {
	Client *http.Client
	// Budget is how long to keep retrying; zero means 2 minutes.
	Budget time.Duration
	// InitialBackoff and MaxBackoff shape the exponential backoff.
	InitialBackoff, MaxBackoff time.Duration
	// Now and Sleep are the clock, injectable so tests do not wait. Sleep
	// must return early with ctx's error when ctx ends.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// HTTPError is a final answer of the portal that is not 2xx.
type HTTPError struct {
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("portal answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// Deliver POSTs ss_result=… (application/x-www-form-urlencoded) to
// callbackURL. A 2xx answer is success; a 4xx or 3xx answer is final (an
// error wrapping ErrDelivery and an *HTTPError); network errors and 5xx are
// retried with exponential backoff until the budget is spent.
func (d *Deliverer) Deliver(ctx context.Context, callbackURL string, r *Result) error {
	if _, err := deeplink.ValidateCallbackURL(callbackURL); err != nil {
		return err
	}
	enc, err := Encode(r)
	if err != nil {
		return err
	}
	body := "ss_result=" + url.QueryEscape(enc)
	now, sleep := d.Now, d.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	var c http.Client
	if d.Client != nil {
		c = *d.Client
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	deadline := now().Add(durationOr(d.Budget, 2*time.Minute))
	backoff := durationOr(d.InitialBackoff, 500*time.Millisecond)
	maxBackoff := durationOr(d.MaxBackoff, 15*time.Second)
	for attempt := 1; ; attempt++ {
		err := post(ctx, &c, callbackURL, body)
		var he *HTTPError
		if err == nil {
			return nil
		}
		if errors.As(err, &he) && he.StatusCode < 500 {
			return fmt.Errorf("%w: %w", ErrDelivery, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrDelivery, ctx.Err())
		}
		left := deadline.Sub(now())
		if left <= 0 {
			return fmt.Errorf("%w after %d attempts: %w", ErrDelivery, attempt, err)
		}
		wait := min(backoff, left)
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%w: %w", ErrDelivery, err)
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func post(ctx context.Context, c *http.Client, u, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &HTTPError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(snippet))}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
