package desktop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
)

// UI is the local page server of the Desktop Software: one request at a
// time, each on its own unguessable address under http://127.0.0.1:PORT.
type UI struct {
	app *App
	srv *server
}

// NewUI listens on 127.0.0.1 on a random port. Call Serve, then Open.
func (a *App) NewUI() (*UI, error) {
	s, err := newServer(a)
	if err != nil {
		return nil, err
	}
	return &UI{app: a, srv: s}, nil
}

// Addr returns "127.0.0.1:PORT".
func (u *UI) Addr() string { return u.srv.Addr() }

// Serve serves the pages until ctx ends.
func (u *UI) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- u.srv.serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = u.srv.shutdown(sctx)
		return nil
	}
}

// Open checks link, lists the certificates, puts the request on a fresh
// page and opens it in the browser. It returns the page address. A link
// that fails the checks also gets a page (saying why), and the error; a
// second link while one is open gets [ErrBusy], and the open request's page
// is shown again.
func (u *UI) Open(ctx context.Context, link string) (string, error) {
	open := u.app.OpenBrowser
	if open == nil {
		open = OpenBrowser
	}
	u.srv.mu.Lock()
	cur := u.srv.cur
	u.srv.mu.Unlock()
	if cur != nil && !cur.finished() {
		// Show the open request again, so the click visibly leads somewhere.
		_ = open(ctx, u.srv.URL(cur))
		return "", ErrBusy
	}
	base := context.WithoutCancel(ctx)
	var sess *session
	chk, err := u.app.Check(ctx, link)
	if err != nil {
		if chk != nil {
			// Tell the portal in the background: the page must not wait
			// for a portal that is down.
			go func(r *callback.Result) {
				dctx, cancel := context.WithTimeout(base, deliveryTimeout)
				defer cancel()
				_ = u.app.Deliver(dctx, chk, r)
			}(u.app.Failure(chk, err))
		}
		u.app.log().Warn("link refused", "err", err)
		sess = refusedSession(base, u.app, err, chk)
	} else {
		certs, errs := u.app.Keystore.Certificates(ctx)
		sess = newSession(base, u.app, chk, certs, errs)
		sess.pages = newDocPages(ctx, u.app, chk.Documents)
	}
	if berr := u.srv.begin(sess); berr != nil {
		return "", berr
	}
	if chk != nil && err == nil {
		go u.expire(sess)
	}
	url := u.srv.URL(sess)
	if oerr := open(ctx, url); oerr != nil {
		return url, errors.Join(err, oerr)
	}
	return url, err
}

// expire ends an untouched request when its link expires, telling the portal.
func (u *UI) expire(s *session) {
	exp := s.chk.Request().Expires
	if exp.IsZero() {
		return
	}
	t := time.NewTimer(time.Until(exp))
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.outcome == nil {
			s.deliver("en", nil, s.app.Failure(s.chk, deeplink.ErrExpired), fmt.Errorf("%w: nobody answered in time", deeplink.ErrExpired))
		}
	}
}

// Idle returns a channel closed when no request is open (now or later:
// it is a snapshot of the current request).
func (u *UI) Idle() <-chan struct{} {
	u.srv.mu.Lock()
	defer u.srv.mu.Unlock()
	if u.srv.cur == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return u.srv.cur.done
}

// RunOptions tune [App.Run].
type RunOptions struct {
	// Instance, when set, receives links forwarded by later processes.
	Instance *Instance
	// Linger is how long to stay after the last request finished, for the
	// next click; default 2 minutes.
	Linger time.Duration
	// Ready, when set, is called with the UI once it serves.
	Ready func(*UI)
}

// Run is the Desktop Software's main loop: it serves the page, opens link
// (if not empty) and links forwarded through o.Instance, and returns when
// ctx ends or nothing happened for o.Linger after the last request.
func (a *App) Run(ctx context.Context, link string, o RunOptions) error {
	if o.Linger <= 0 {
		o.Linger = 2 * time.Minute
	}
	ui, err := a.NewUI()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveErr := make(chan error, 1)
	go func() { serveErr <- ui.Serve(ctx) }()
	activity := make(chan struct{}, 1)
	poke := func() {
		select {
		case activity <- struct{}{}:
		default:
		}
	}
	if o.Instance != nil {
		go o.Instance.Serve(ctx, func(ctx context.Context, l string) error {
			_, err := ui.Open(ctx, l)
			poke()
			return err
		})
	}
	if o.Ready != nil {
		o.Ready(ui)
	}
	var firstErr error
	if link != "" {
		_, firstErr = ui.Open(ctx, link)
		if firstErr != nil {
			a.log().Warn("first link", "err", firstErr)
		}
	}
	for {
		select {
		case <-ui.Idle():
		case <-ctx.Done():
			return firstErr
		case err := <-serveErr:
			return err
		case <-activity:
			continue
		}
		t := time.NewTimer(o.Linger)
		select {
		case <-t.C:
			return firstErr
		case <-activity:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return firstErr
		case err := <-serveErr:
			t.Stop()
			return err
		}
	}
}
