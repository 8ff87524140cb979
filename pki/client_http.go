package pki

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// checkHTTPURL accepts only absolute http and https URLs: certificates carry
// attacker-chosen URLs, and ldap:, file: or ftp: ones must not be followed.
func checkHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadURL, raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadURL, raw)
	}
	return u, nil
}

// safeClient returns a copy of c (or a default client) whose redirects stay
// on http(s) and that gives up after timeout.
func safeClient(c *http.Client, timeout time.Duration) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	if cc.Timeout == 0 || (timeout > 0 && timeout < cc.Timeout) {
		cc.Timeout = timeout
	}
	prev := cc.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if _, err := checkHTTPURL(req.URL.String()); err != nil {
			return err
		}
		if len(via) >= 5 {
			return errors.New("pki: too many redirects")
		}
		if prev != nil {
			return prev(req, via)
		}
		return nil
	}
	return &cc
}

// doHTTP sends a GET (body nil) or POST request and returns at most max bytes
// of a 200 answer.
func doHTTP(ctx context.Context, c *http.Client, method, rawURL, contentType string, body []byte, max int64) ([]byte, error) {
	if _, err := checkHTTPURL(rawURL); err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pki: %s %s: HTTP status %s", method, rawURL, resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: %s announced %d bytes, limit %d", ErrResponseTooLarge, rawURL, resp.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("pki: reading %s: %w", rawURL, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s sent more than %d bytes", ErrResponseTooLarge, rawURL, max)
	}
	return data, nil
}
