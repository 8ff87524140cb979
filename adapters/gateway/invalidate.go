package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// invalidateChannel is where PostgreSQL triggers (migrations 0011, 0013, 0014)
// announce changed API keys ("apikey:<id>"), tenants ("tenant:<id>"), link
// keys ("link_keys") and session statuses ("session:<id>"), at commit, to
// every gateway sharing the database.
const invalidateChannel = "securesign_invalidate"

// pgListener holds one connection of its own (not the pool's: a held pool
// connection would block the pool's Close) in LISTEN and passes each
// notification to the subscribers. After a lost connection it connects
// again and reports "*" (anything may have changed meanwhile).
type pgListener struct {
	mu     sync.Mutex
	subs   []func(string)
	cancel context.CancelFunc
	done   chan struct{}
}

// subscribe adds f; the first subscriber starts listening.
func (s *pgStore) subscribe(f func(string)) {
	l := &s.listen
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subs = append(l.subs, f)
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	ready := make(chan struct{})
	go l.run(ctx, s, ready)
	// Wait (briefly) for LISTEN, so a change made right after the
	// server starts is not missed.
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
	}
}

func (l *pgListener) stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (l *pgListener) emit(msg string) {
	l.mu.Lock()
	subs := l.subs
	l.mu.Unlock()
	for _, f := range subs {
		f(msg)
	}
}

func (l *pgListener) run(ctx context.Context, s *pgStore, ready chan struct{}) {
	defer close(l.done)
	first := true
	for backoff := 100 * time.Millisecond; ctx.Err() == nil; backoff = min(2*backoff, 5*time.Second) {
		conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+invalidateChannel)
			if err == nil {
				// The same connection holds the process's liveness lock
				// (pgstore.go: ownerGone): it ends with the process. Never
				// waited for: on a collision another live process holds
				// it, which keeps this one's reservations alive too.
				_, err = conn.Exec(ctx, "SELECT pg_try_advisory_lock($1, $2)", livenessLockClass, livenessLockID(s.boot))
			}
			if err == nil {
				if first {
					close(ready)
					first = false
				} else {
					l.emit("*")
				}
				backoff = 100 * time.Millisecond
				for {
					n, err := conn.WaitForNotification(ctx)
					if err != nil {
						break
					}
					l.emit(n.Payload)
				}
			}
			conn.Close(context.Background()) //nolint:errcheck
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}

// watchInvalidations makes the server's caches follow changes made
// through any gateway sharing its PostgreSQL store (no-op otherwise).
func (s *Server) watchInvalidations() {
	pg, ok := s.store.(*pgStore)
	if !ok {
		return
	}
	pg.subscribe(func(msg string) {
		kind, id, _ := strings.Cut(msg, ":")
		switch kind {
		case "apikey":
			s.apiKeys.drop(id)
		case "tenant", "*":
			// Tenant state is copied into each of its keys' records.
			s.apiKeys.clear()
		}
		if kind == "session" {
			s.watchers.notify(id)
		}
		if kind == "*" {
			s.watchers.notifyAll()
		}
		if kind == "link_keys" || kind == "*" {
			if err := s.links.reload(context.Background()); err != nil {
				s.log.Warn("reloading link keys", "err", err.Error())
			}
		}
	})
}

func (c *apiKeyCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.gen++
	c.mu.Unlock()
}

func (c *apiKeyCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.gen++
	c.mu.Unlock()
}

// announceWatch asks every gateway sharing the store to be told when
// requestID's status changes (migration 0014): only watched sessions'
// changes are announced, so completions nobody watches wake no instance.
// A no-op without PostgreSQL (one process: the in-process notify
// suffices). Called before the watcher reads the status it waits on, so
// a change is either in that read or announced.
func (s *Server) announceWatch(ctx context.Context, requestID string) error {
	pg, ok := s.store.(*pgStore)
	if !ok {
		return nil
	}
	return pg.announceWatch(ctx, requestID)
}

func (s *pgStore) announceWatch(ctx context.Context, requestID string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO session_watches (request_id) VALUES ($1) ON CONFLICT DO NOTHING", requestID)
	if err != nil {
		return fmt.Errorf("gateway: watch session: %w", err)
	}
	return nil
}
