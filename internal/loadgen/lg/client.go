package lg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// ErrNotLoopback is returned for a target that is not on this machine: the
// load generator floods what it is pointed at, so it only points at itself.
var ErrNotLoopback = errors.New("lg: target is not a loopback address (127.0.0.0/8, ::1, localhost)")

// CheckLoopback accepts only http(s) URLs whose host is a loopback
// address or "localhost".
func CheckLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("lg: target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("lg: target %q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: %q", ErrNotLoopback, host)
	}
	return u, nil
}

// Client talks to one gateway, or to several on one database in turn
// (round robin per request, as a load balancer would), with one API key.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080, no trailing slash
	// Bases, when more than one, are the gateways requests go to in turn
	// (BaseURL is the first).
	Bases  []string
	APIKey string
	HTTP   *http.Client
	next   atomic.Uint64
}

// NewClient checks that base is a loopback URL, or a comma-separated list
// of them (several gateways sharing one database), and returns a client
// with a keep-alive pool sized for conns concurrent requests.
func NewClient(base, apiKey string, conns int) (*Client, error) {
	var bases []string
	for _, b := range strings.Split(base, ",") {
		if _, err := CheckLoopback(b); err != nil {
			return nil, err
		}
		bases = append(bases, strings.TrimRight(b, "/"))
	}
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: loopback only
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     30 * time.Second,
		// A result (4-5 KiB with its form encoding) goes out with its
		// headers in one write, not two.
		WriteBufferSize: 64 << 10,
	}
	return &Client{BaseURL: bases[0], Bases: bases, APIKey: apiKey, HTTP: &http.Client{
		Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// Pinned is c bound to the i-th of its gateways (modulo their number),
// sharing c's connections.
func (c *Client) Pinned(i int) *Client {
	b := c.Bases[i%len(c.Bases)]
	return &Client{BaseURL: b, Bases: []string{b}, APIKey: c.APIKey, HTTP: c.HTTP}
}

// CloseIdle closes the client's idle keep-alive connections, so the
// server's per-connection goroutines can end.
func (c *Client) CloseIdle() { c.HTTP.CloseIdleConnections() }

// Response is a finished call.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// JSON decodes the body into a map (nil when it is not a JSON object).
func (r *Response) JSON() map[string]any {
	var m map[string]any
	if json.Unmarshal(r.Body, &m) != nil {
		return nil
	}
	return m
}

// Str returns a string member of the JSON body.
func (r *Response) Str(name string) string {
	s, _ := r.JSON()[name].(string)
	return s
}

// Do sends a request. body may be nil, []byte or string (sent as is, JSON
// content type unless hdr sets one) or any other value (JSON-encoded).
// auth adds the API key. hdr are name/value pairs.
func (c *Client) Do(ctx context.Context, method, path string, body any, auth bool, hdr ...string) (*Response, error) {
	base := c.BaseURL
	if len(c.Bases) > 1 {
		base = c.Bases[c.next.Add(1)%uint64(len(c.Bases))]
	}
	return c.DoAt(ctx, base, method, path, body, auth, hdr...)
}

// DoAt is Do to the gateway at base (one of Bases).
func (c *Client) DoAt(ctx context.Context, base, method, path string, body any, auth bool, hdr ...string) (*Response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth && c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Status: res.StatusCode, Body: raw, Header: res.Header}, nil
}

// Must is Do that also fails unless the status is want.
func (c *Client) Must(ctx context.Context, want int, method, path string, body any, hdr ...string) (*Response, error) {
	res, err := c.Do(ctx, method, path, body, true, hdr...)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.Status != want {
		return res, &StatusError{Method: method, Path: path, Status: res.Status, Want: want, Body: truncate(string(res.Body), 300)}
	}
	return res, nil
}

// StatusError is an answer with an unexpected status.
type StatusError struct {
	Method, Path string
	Status, Want int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s = %d, want %d: %s", e.Method, e.Path, e.Status, e.Want, e.Body)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// PostResult delivers an encoded ss_result as the desktop app does (form POST).
func (c *Client) PostResult(ctx context.Context, encoded string) (*Response, error) {
	return c.Do(ctx, http.MethodPost, "/v1/callback", "ss_result="+url.QueryEscape(encoded), false,
		"Content-Type", "application/x-www-form-urlencoded")
}
