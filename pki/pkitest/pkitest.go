// Package pkitest tests implementations of pki.Store.
package pkitest

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/securesign/securesign/pki"
)

// StoreConformance runs the pki.Store contract against stores made by
// newStore, which must return an empty store (and clean it up with
// t.Cleanup). Use it from the implementation's own tests:
//
//	func TestStore(t *testing.T) {
//		pkitest.StoreConformance(t, func(t *testing.T) pki.Store { return open(t) })
//	}
func StoreConformance(t *testing.T, newStore func(t *testing.T) pki.Store) {
	ctx := context.Background()
	bigCmp := cmp.Comparer(func(a, b *big.Int) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Cmp(b) == 0
	})
	timeCmp := cmpopts.EquateApproxTime(time.Microsecond)
	opts := cmp.Options{bigCmp, timeCmp, cmpopts.EquateEmpty()}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// A 128-bit serial with the top bit set, as the CA draws them.
	big128, _ := new(big.Int).SetString("f27cd32d8888d9abee3dd37f538d3eac", 16)
	rec := func(serial *big.Int) *pki.CertRecord {
		return &pki.CertRecord{
			Serial: serial, DER: []byte{0x30, 0x03, 0x02, 0x01, byte(serial.Int64())}, Profile: "individual-signing",
			Subject: "Rajesh Kumar", NotAfter: t0.AddDate(2, 0, 0), KeyID: "k1", IssuedAt: t0,
		}
	}

	t.Run("PutAndGet", func(t *testing.T) {
		s := newStore(t)
		for _, r := range []*pki.CertRecord{rec(big.NewInt(1)), rec(big128)} {
			if err := s.PutCertificate(ctx, r); err != nil {
				t.Fatal(err)
			}
			got, err := s.Certificate(ctx, r.Serial)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r, got, opts); diff != "" {
				t.Errorf("record (-put +got):\n%s", diff)
			}
		}
	})
	t.Run("DuplicateSerial", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutCertificate(ctx, rec(big128)); err != nil {
			t.Fatal(err)
		}
		other := rec(big128)
		other.Subject = "Someone Else"
		if err := s.PutCertificate(ctx, other); !errors.Is(err, pki.ErrSerialExists) {
			t.Fatalf("second PutCertificate: %v, want ErrSerialExists", err)
		}
		got, _ := s.Certificate(ctx, big128)
		if got == nil || got.Subject != "Rajesh Kumar" {
			t.Errorf("duplicate put changed the record: %+v", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Certificate(ctx, big.NewInt(99)); !errors.Is(err, pki.ErrNotFound) {
			t.Errorf("Certificate: %v, want ErrNotFound", err)
		}
		if err := s.Revoke(ctx, big.NewInt(99), 1, t0); !errors.Is(err, pki.ErrNotFound) {
			t.Errorf("Revoke: %v, want ErrNotFound", err)
		}
		if _, err := s.Key(ctx, "nope"); !errors.Is(err, pki.ErrNotFound) {
			t.Errorf("Key: %v, want ErrNotFound", err)
		}
		if l, err := s.Revoked(ctx); err != nil || len(l) != 0 {
			t.Errorf("Revoked = %v, %v; want empty", l, err)
		}
	})
	t.Run("Revoke", func(t *testing.T) {
		s := newStore(t)
		for _, n := range []int64{1, 2, 3} {
			if err := s.PutCertificate(ctx, rec(big.NewInt(n))); err != nil {
				t.Fatal(err)
			}
		}
		at := t0.Add(time.Hour)
		if err := s.Revoke(ctx, big.NewInt(2), 1, at); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, big.NewInt(2), 4, at.Add(time.Hour)); !errors.Is(err, pki.ErrAlreadyRevoked) {
			t.Fatalf("second Revoke: %v, want ErrAlreadyRevoked", err)
		}
		got, err := s.Certificate(ctx, big.NewInt(2))
		if err != nil {
			t.Fatal(err)
		}
		want := rec(big.NewInt(2))
		want.RevokedAt, want.Reason = at, 1
		if diff := cmp.Diff(want, got, opts); diff != "" {
			t.Errorf("revoked record (-want +got):\n%s", diff)
		}
		l, err := s.Revoked(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]pki.RevokedEntry{{Serial: big.NewInt(2), RevokedAt: at, Reason: 1}}, l, opts); diff != "" {
			t.Errorf("Revoked (-want +got):\n%s", diff)
		}
	})
	t.Run("CRLNumber", func(t *testing.T) {
		s := newStore(t)
		var last int64
		for range 3 {
			n, err := s.NextCRLNumber(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n.Int64() <= last {
				t.Fatalf("CRL number %v after %d", n, last)
			}
			last = n.Int64()
		}
	})
	t.Run("Keys", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutKey(ctx, "a", []byte("blob-a")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutKey(ctx, "a", []byte("other")); !errors.Is(err, pki.ErrSerialExists) {
			t.Fatalf("second PutKey: %v, want ErrSerialExists", err)
		}
		b, err := s.Key(ctx, "a")
		if err != nil || string(b) != "blob-a" {
			t.Fatalf("Key = %q, %v", b, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				// All race for serial 7: exactly one may win.
				errs[i] = s.PutCertificate(ctx, rec(big.NewInt(7)))
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, pki.ErrSerialExists):
				t.Errorf("PutCertificate: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d concurrent puts of one serial succeeded, want 1", won)
		}
		seen := map[int64]bool{}
		var mu sync.Mutex
		for range 4 {
			wg.Go(func() {
				n, err := s.NextCRLNumber(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if seen[n.Int64()] {
					t.Errorf("CRL number %v handed out twice", n)
				}
				seen[n.Int64()] = true
			})
		}
		wg.Wait()
	})
}
