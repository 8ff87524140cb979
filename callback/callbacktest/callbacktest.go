// Package callbacktest checks implementations of callback.Store: the
// gateway runs StoreConformance against its SQLite and PostgreSQL stores,
// callback against MemoryStore.
package callbacktest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
)

// NewStore returns a fresh, empty store and a function that records a
// pending request in it (as issuing a link would).
type NewStore func(t *testing.T) (store callback.Store, add func(ctx context.Context, p *callback.Pending) error)

// StoreConformance checks the Store contract: unknown ids, pending requests
// read back, completion as an atomic compare-and-set (first wins, never
// replaced, exactly one winner among concurrent completions), and
// completions read back intact. cert is any certificate, stored as the
// completion's certificate and chain.
func StoreConformance(t *testing.T, newStore NewStore, cert *x509.Certificate) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	pending := func(id string) *callback.Pending {
		h := sha256.Sum256([]byte(id))
		return &callback.Pending{RequestID: id, Action: deeplink.ActionSign, Hashes: [][]byte{h[:], h[:]},
			HashAlgo: crypto.SHA256, Origin: "https://portal.example.in", CertSerial: big.NewInt(0x4a3b2c1d),
			CertSHA256: h[:], ExpiresAt: now.Add(10 * time.Minute)}
	}
	success := func(tag string) *callback.Completion {
		return &callback.Completion{ResultHash: sha256.Sum256([]byte(tag)), Success: true,
			Signatures: [][]byte{[]byte(tag + "1"), []byte(tag + "2")}, Certificate: cert,
			Chain: []*x509.Certificate{cert}, CompletedAt: now}
	}
	failure := func(code callback.Code) *callback.Completion {
		return &callback.Completion{ResultHash: sha256.Sum256([]byte(code)), Code: code, Message: "msg " + string(code), CompletedAt: now}
	}
	cmpOpts := cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Second),
		cmp.Comparer(func(a, b *x509.Certificate) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(b) })}

	t.Run("unknown", func(t *testing.T) {
		s, _ := newStore(t)
		if _, _, err := s.Pending(ctx, "never-issued"); !errors.Is(err, callback.ErrUnknownRequest) {
			t.Errorf("Pending: %v, want ErrUnknownRequest", err)
		}
		if _, _, err := s.Complete(ctx, "never-issued", success("x")); !errors.Is(err, callback.ErrUnknownRequest) {
			t.Errorf("Complete: %v, want ErrUnknownRequest", err)
		}
	})
	t.Run("pending reads back", func(t *testing.T) {
		s, add := newStore(t)
		p := pending("req-00000001")
		if err := add(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, c, err := s.Pending(ctx, p.RequestID)
		if err != nil || c != nil {
			t.Fatalf("Pending: %v, completion %v", err, c)
		}
		for _, d := range []struct {
			name      string
			got, want any
		}{
			{"Hashes", got.Hashes, p.Hashes}, {"HashAlgo", got.HashAlgo, p.HashAlgo}, {"Action", got.Action, p.Action},
			{"ExpiresAt", got.ExpiresAt, p.ExpiresAt}, {"RequestID", got.RequestID, p.RequestID},
		} {
			if diff := cmp.Diff(d.want, d.got, cmpOpts); diff != "" {
				t.Errorf("%s (-want +got):\n%s", d.name, diff)
			}
		}
	})
	t.Run("first wins, never replaced", func(t *testing.T) {
		s, add := newStore(t)
		p := pending("req-00000002")
		if err := add(ctx, p); err != nil {
			t.Fatal(err)
		}
		first := success("a")
		stored, won, err := s.Complete(ctx, p.RequestID, first)
		if err != nil || !won {
			t.Fatalf("first Complete: won=%t %v", won, err)
		}
		if diff := cmp.Diff(first, stored, cmpOpts); diff != "" {
			t.Errorf("stored (-want +got):\n%s", diff)
		}
		for _, later := range []*callback.Completion{success("b"), failure(callback.CodeSignCancelled), success("a")} {
			stored, won, err := s.Complete(ctx, p.RequestID, later)
			if err != nil || won {
				t.Errorf("later Complete: won=%t %v", won, err)
			}
			if diff := cmp.Diff(first, stored, cmpOpts); diff != "" {
				t.Errorf("later Complete returned another completion (-want +got):\n%s", diff)
			}
		}
		_, c, err := s.Pending(ctx, p.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, c, cmpOpts); diff != "" {
			t.Errorf("Pending's completion (-want +got):\n%s", diff)
		}
	})
	t.Run("failure reads back", func(t *testing.T) {
		s, add := newStore(t)
		p := pending("req-00000003")
		if err := add(ctx, p); err != nil {
			t.Fatal(err)
		}
		f := failure(callback.CodePINInvalid)
		if _, won, err := s.Complete(ctx, p.RequestID, f); err != nil || !won {
			t.Fatalf("Complete: won=%t %v", won, err)
		}
		_, c, _ := s.Pending(ctx, p.RequestID)
		if diff := cmp.Diff(f, c, cmpOpts); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a success replaces a failure, never the other way", func(t *testing.T) {
		s, add := newStore(t)
		p := pending("req-00000004")
		if err := add(ctx, p); err != nil {
			t.Fatal(err)
		}
		f := failure(callback.CodeSignCancelled)
		if _, won, err := s.Complete(ctx, p.RequestID, f); err != nil || !won {
			t.Fatalf("failure: won=%t %v", won, err)
		}
		f2 := failure(callback.CodePINInvalid)
		f2.ResultHash = sha256.Sum256([]byte("other failure"))
		if stored, won, err := s.Complete(ctx, p.RequestID, f2); err != nil || won || stored.Code != callback.CodeSignCancelled {
			t.Fatalf("second failure: won=%t %v", won, err)
		}
		ok := success("after-failure")
		if stored, won, err := s.Complete(ctx, p.RequestID, ok); err != nil || !won || !stored.Success {
			t.Fatalf("success after failure: won=%t %v", won, err)
		}
		if stored, won, err := s.Complete(ctx, p.RequestID, f); err != nil || won || !stored.Success {
			t.Fatalf("failure after success: won=%t %v", won, err)
		}
		if _, c, _ := s.Pending(ctx, p.RequestID); c == nil || !c.Success {
			t.Errorf("stored: %+v, want the success", c)
		}
	})
	t.Run("concurrent completions: one winner", func(t *testing.T) {
		s, add := newStore(t)
		for round := range 3 {
			p := pending(fmt.Sprintf("req-race-%04d", round))
			if err := add(ctx, p); err != nil {
				t.Fatal(err)
			}
			const n = 8
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				wins     int
				failWins int
				hashes   = map[[32]byte]bool{}
			)
			for i := range n {
				wg.Go(func() {
					c := success(fmt.Sprintf("r%d-%d", round, i))
					if i%2 == 1 {
						c = failure(callback.CodeSignCancelled)
						c.ResultHash = sha256.Sum256([]byte(fmt.Sprint(i)))
					}
					stored, won, err := s.Complete(ctx, p.RequestID, c)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Error(err)
						return
					}
					switch {
					case won && c.Success:
						wins++
						hashes[stored.ResultHash] = true
					case won:
						failWins++
					}
				})
			}
			wg.Wait()
			// A failure may be recorded first, but it does not complete:
			// exactly one success wins and stays (PROTOCOL 1.1 §3).
			if wins != 1 || len(hashes) != 1 || failWins > 1 {
				t.Errorf("round %d: %d success winners, %d failure winners; want 1 and at most 1", round, wins, failWins)
			}
			if _, c, err := s.Pending(ctx, p.RequestID); err != nil || c == nil || !c.Success {
				t.Errorf("round %d: stored completion %+v, %v; want the success", round, c, err)
			}
		}
	})
}
