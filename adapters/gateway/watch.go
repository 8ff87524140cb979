package gateway

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/callback"
)

// Capability URLs (protocol §3.4): a session's QR image and its status, for
// the customer's browser, without the API key. The URL carries a token
// that names the session and its expiry under a key derived from the
// master key; it opens only these two read-only views, and only until the
// session expires.

// capKey derives the capability MAC key from the master key.
func capKey(master []byte) ([]byte, error) {
	if len(master) < 16 {
		return nil, errors.New("master key shorter than 16 bytes")
	}
	return hkdf.Key(sha256.New, master, nil, "securesign gateway session capability v1", 32)
}

// What a capability opens: one purpose's token never opens another's
// views (a watchUrl does not open the signing package, nor the reverse).
const (
	capWatch   = "watch"
	capPackage = "package"
)

func capMAC(key []byte, purpose, requestID string, exp int64) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\x00%s\x00%d", purpose, requestID, exp)
	return m.Sum(nil)[:18]
}

// capToken is the capability for purpose on requestID until exp:
// "<exp>.<mac>".
func capToken(key []byte, purpose, requestID string, exp time.Time) string {
	e := exp.Unix()
	return strconv.FormatInt(e, 10) + "." + base64.RawURLEncoding.EncodeToString(capMAC(key, purpose, requestID, e))
}

// checkCap reports whether tok is a capability for purpose on requestID,
// unexpired at now.
func checkCap(key []byte, purpose, requestID, tok string, now time.Time) bool {
	es, ms, ok := strings.Cut(tok, ".")
	if !ok || len(es) > 12 || len(ms) > 32 {
		return false
	}
	e, err := strconv.ParseInt(es, 10, 64)
	if err != nil {
		return false
	}
	mac, err := base64.RawURLEncoding.DecodeString(ms)
	if err != nil || !hmac.Equal(mac, capMAC(key, purpose, requestID, e)) {
		return false
	}
	return now.Before(time.Unix(e, 0))
}

// watchURLs are the capability URLs of sess.
func (s *Server) watchURLs(sess *Session) (qr, watch string) {
	base := s.baseURL + "/v1/watch/" + sess.RequestID
	q := "?cap=" + capToken(s.capKey, capWatch, sess.RequestID, sess.ExpiresAt)
	return base + "/qr.png" + q, base + q
}

// sessionWatch wakes the watchers of a session when a result lands in this
// process or, with PostgreSQL, at another instance (its "session:<id>"
// notification, invalidate.go). Without one (SQLite is one process) long
// polls end at their wait and streams re-read the store every watchPoll.
type sessionWatch struct {
	mu sync.Mutex
	m  map[string]*watchEntry
}

type watchEntry struct {
	ch chan struct{}
	n  int
}

// watch returns a channel closed at the next notify of id, and a release
// function the caller must call.
func (w *sessionWatch) watch(id string) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]*watchEntry{}
	}
	e := w.m[id]
	if e == nil {
		e = &watchEntry{ch: make(chan struct{})}
		w.m[id] = e
	}
	e.n++
	return e.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if e.n--; e.n == 0 && w.m[id] == e {
			delete(w.m, id)
		}
	}
}

func (w *sessionWatch) notify(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.m[id]; e != nil {
		close(e.ch)
		delete(w.m, id)
	}
}

// notifyAll wakes every watcher (the notifications may have been missed).
func (w *sessionWatch) notifyAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, e := range w.m {
		close(e.ch)
		delete(w.m, id)
	}
}

// watchPoll bounds how stale a stream is when the result landed at another
// instance; watchHeartbeat keeps proxies from closing a quiet stream.
const (
	watchPoll      = 5 * time.Second
	watchHeartbeat = 15 * time.Second
	maxWatchWait   = 30 * time.Second
)

// watchSession finds the session a capability URL names; a wrong, tampered
// or expired capability is the same 404 as an unknown session.
func (s *Server) watchSession(c echo.Context) (*Session, error) {
	id := c.Param("id")
	c.Set("requestId", id)
	if !checkCap(s.capKey, capWatch, id, c.QueryParam("cap"), s.cfg.Now()) {
		return nil, apiErr(http.StatusNotFound, CodeNotFound, "no such session, or the link has expired")
	}
	sess, err := s.store.SessionByID(c.Request().Context(), id)
	if errors.Is(err, ErrNotFound) {
		return nil, apiErr(http.StatusNotFound, CodeNotFound, "no such session, or the link has expired")
	}
	return sess, err
}

// watchQR answers GET /v1/watch/:id/qr.png?cap=…: the session's QR code.
func (s *Server) watchQR(c echo.Context) error {
	sess, err := s.watchSession(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return writeQR(c, sess)
}

// watchBody is what a capability shows of a session: its status, nothing
// the result carried.
type watchBody struct {
	Success   bool   `json:"success"`
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	ExpiresAt string `json:"expiresAt"`
	Error     string `json:"error,omitempty"`
}

func (s *Server) watchState(sess *Session) watchBody {
	st := s.status(sess)
	b := watchBody{Success: st == StatusSigned, RequestID: sess.RequestID, Status: st, ExpiresAt: sess.ExpiresAt.UTC().Format(time.RFC3339)}
	if cp := sess.Completion; cp != nil && !cp.Success && st != StatusSigned {
		b.Error = cp.Code
	}
	return b
}

func final(status string) bool { return status == StatusSigned || status == StatusExpired }

// watchStatus answers GET /v1/watch/:id?cap=…: the status as JSON, after
// waiting up to ?wait= seconds (at most 30) for a change (long polling);
// with Accept: text/event-stream, a stream of "status" events until the
// status is final.
func (s *Server) watchStatus(c echo.Context) error {
	sess, err := s.watchSession(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	if strings.Contains(c.Request().Header.Get("Accept"), "text/event-stream") {
		return s.watchStream(c, sess)
	}
	var wait time.Duration
	if w := c.QueryParam("wait"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return badRequest("wait must be a number of seconds from 0 to 30")
		}
		wait = min(time.Duration(n)*time.Second, maxWatchWait)
	}
	cur := s.watchState(sess)
	if wait > 0 && !final(cur.Status) {
		if err := s.announceWatch(c.Request().Context(), sess.RequestID); err != nil {
			return err
		}
		changed, release := s.watchers.watch(sess.RequestID)
		// The result may have landed between the read and the watch.
		if again, err := s.store.SessionByID(c.Request().Context(), sess.RequestID); err == nil && s.watchState(again) != cur {
			release()
			return c.JSON(http.StatusOK, s.watchState(again))
		}
		wait = min(wait, sess.ExpiresAt.Sub(s.cfg.Now())+time.Second)
		// The public read deadline would cancel the wait (net/http ends the
		// request's context when the idle connection's read times out).
		http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(wait + 5*time.Second)) //nolint:errcheck
		t := time.NewTimer(wait)
		select {
		case <-changed:
		case <-t.C:
		case <-c.Request().Context().Done():
		}
		t.Stop()
		release()
		if c.Request().Context().Err() != nil {
			return nil // the client left
		}
		if sess, err = s.store.SessionByID(c.Request().Context(), sess.RequestID); err != nil {
			return err
		}
		cur = s.watchState(sess)
	}
	return c.JSON(http.StatusOK, cur)
}

// watchStream sends the status as server-sent events: at once, then at
// every change, until it is final or the session expires.
func (s *Server) watchStream(c echo.Context, sess *Session) error {
	ctx := c.Request().Context()
	// Watched (here, and announced to the other instances) before each
	// read of the status: a change after the read wakes the wait.
	changed, release := s.watchers.watch(sess.RequestID)
	defer func() { release() }()
	if !final(s.watchState(sess).Status) {
		if err := s.announceWatch(ctx, sess.RequestID); err != nil {
			return err
		}
		if _, ok := s.store.(*pgStore); ok {
			again, err := s.store.SessionByID(ctx, sess.RequestID)
			if err != nil {
				return err
			}
			sess = again
		}
	}
	end := sess.ExpiresAt.Add(time.Second)
	// The public read deadline would end the stream: it may last until
	// the session expires.
	http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(end.Sub(s.cfg.Now()))) //nolint:errcheck
	h := c.Response().Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	c.Response().WriteHeader(http.StatusOK)
	var last watchBody
	send := func(b watchBody) error {
		data, _ := json.Marshal(b)
		if _, err := fmt.Fprintf(c.Response(), "event: status\ndata: %s\n\n", data); err != nil {
			return err
		}
		c.Response().Flush()
		last = b
		return nil
	}
	if err := send(s.watchState(sess)); err != nil {
		return nil
	}
	heartbeat := time.NewTicker(watchHeartbeat)
	defer heartbeat.Stop()
	for !final(last.Status) {
		poll := watchPoll
		if s.watchPollEvery > 0 {
			poll = s.watchPollEvery
		}
		t := time.NewTimer(min(poll, end.Sub(s.cfg.Now())))
		var stop bool
		select {
		case <-changed:
		case <-t.C:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(c.Response(), ": keep-alive\n\n"); err != nil {
				stop = true
			}
			c.Response().Flush()
		case <-ctx.Done():
			stop = true
		}
		t.Stop()
		if stop {
			return nil
		}
		release()
		changed, release = s.watchers.watch(sess.RequestID)
		cur, err := s.store.SessionByID(ctx, sess.RequestID)
		if err != nil {
			return nil // the stream is committed; the client reconnects
		}
		if b := s.watchState(cur); b != last {
			if send(b) != nil {
				return nil
			}
		}
		if !s.cfg.Now().Before(end) && !final(last.Status) {
			return nil
		}
	}
	return nil
}

// notifyWatchers wakes the watchers of a session whose result was accepted.
func (s *Server) notifyWatchers(o *callback.Outcome) {
	if o != nil && o.Kind == callback.Accepted && o.RequestID != "" {
		s.watchers.notify(o.RequestID)
	}
}
