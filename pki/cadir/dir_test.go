package cadir

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/pki/pkitest"
)

var individual = pki.Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001", Country: "IN"}

// TestStore runs the pki.Store conformance tests on the SQLite store.
func TestStore(t *testing.T) {
	pkitest.StoreConformance(t, func(t *testing.T) pki.Store { return sqliteStore(t) })
}

func TestDirReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ca")
	pass := []byte("s3cret")
	ca, err := Init(ctx, dir, Options{Passphrase: pass, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	cert, id, err := ca.IssueKeyGen(ctx, pki.P256, individual, "")
	if err != nil {
		t.Fatal(err)
	}
	ocspCert, tsaCert := ca.OCSPSigner().Certificate(), ca.TSASigner().Certificate()
	ca.Close()

	if _, err := Init(ctx, dir, Options{}); err == nil {
		t.Fatal("Init over an existing pki.CA succeeded")
	}
	if _, err := Open(ctx, dir, Options{}); !errors.Is(err, pki.ErrKeyStoreLocked) {
		t.Fatalf("Open without passphrase: %v", err)
	}
	if _, err := Open(ctx, dir, Options{Passphrase: []byte("nope")}); !errors.Is(err, pki.ErrKeyStoreLocked) {
		t.Fatalf("Open with a wrong passphrase: %v", err)
	}
	ca, err = Open(ctx, dir, Options{Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if !ca.OCSPSigner().Certificate().Equal(ocspCert) || !ca.TSASigner().Certificate().Equal(tsaCert) {
		t.Error("service certificates changed on reopen")
	}
	rec, err := ca.Lookup(ctx, cert.SerialNumber)
	if err != nil || rec.KeyID != id {
		t.Fatalf("Lookup after reopen: %+v %v", rec, err)
	}
	if _, err := ca.LoadSigner(ctx, cert.SerialNumber); err != nil {
		t.Fatal(err)
	}
	if got := cert.OCSPServer; len(got) != 1 || got[0] != "http://127.0.0.1:1/ocsp" {
		t.Errorf("OCSP URL %v", got)
	}
}

// TestConcurrentIssuance issues in parallel on SQLite: serials stay unique.
func TestConcurrentIssuance(t *testing.T) {
	ctx := context.Background()
	h, err := pki.NewHierarchy(ctx, pki.HierarchyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := OpenStore(ctx, filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ca, err := pki.New(ctx, pki.Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: []*x509.Certificate{h.Root}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	pub := testpki.Key(t, testpki.P256, 0).Public()
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]bool{}
	for range 8 {
		wg.Go(func() {
			for range 4 {
				c, err := ca.Issue(ctx, pub, individual, "")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[c.SerialNumber.String()] {
					t.Errorf("serial %x issued twice", c.SerialNumber)
				}
				seen[c.SerialNumber.String()] = true
				mu.Unlock()
				if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() < 64 {
					t.Errorf("serial %x: not positive or too short", c.SerialNumber)
				}
			}
		})
	}
	wg.Wait()
}

// TestDirPlainAndRenewal opens a development (unencrypted) pki.CA directory
// and renews the OCSP responder certificate when it nears expiry.
func TestDirPlainAndRenewal(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := Init(ctx, dir, Options{KeyType: pki.P384})
	if err != nil {
		t.Fatal(err)
	}
	ocspBefore, tsaBefore := ca.OCSPSigner().Certificate(), ca.TSASigner().Certificate()
	ca.Close()
	if data, _ := os.ReadFile(filepath.Join(dir, "issuing.key")); !bytes.Contains(data, []byte("BEGIN PRIVATE KEY")) {
		t.Error("dev key is not plain PKCS#8")
	}
	later := func() time.Time { return time.Now().Add(85 * 24 * time.Hour) }
	ca, err = Open(ctx, dir, Options{Now: later})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if ca.OCSPSigner().Certificate().Equal(ocspBefore) {
		t.Error("OCSP responder certificate 5 days from expiry was not renewed")
	}
	if !ca.TSASigner().Certificate().Equal(tsaBefore) {
		t.Error("TSA certificate renewed needlessly")
	}
	if _, err := Open(ctx, filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Error("Open of a missing directory succeeded")
	}
}

func TestInitFailureLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	// A bad base URL fails before anything is written; an RSA-2048 pki.CA key
	// fails after the directory exists.
	for _, o := range []Options{{BaseURL: "ftp://x"}, {KeyType: pki.RSA2048}} {
		if _, err := Init(context.Background(), dir, o); err == nil {
			t.Fatalf("Init(%+v) succeeded", o)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("Init(%+v) left %d files", o, len(ents))
		}
	}
}

func sqliteStore(t *testing.T) *Store {
	s, err := OpenStore(context.Background(), filepath.Join(t.TempDir(), "ca.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDirRootCRL: Init's issuing pki.CA points at the root CRL under the
// directory's base URL; the SQLite store numbers it; without root.key
// (root taken offline) there is none.
func TestDirRootCRL(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := Init(ctx, dir, Options{BaseURL: "http://127.0.0.1:1/pki/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Certificate().CRLDistributionPoints; len(got) != 1 || got[0] != "http://127.0.0.1:1/pki"+pki.RootCRLPath {
		t.Errorf("issuing pki.CA CRL distribution points %v", got)
	}
	crlNumber := func(ca *pki.CA) *big.Int {
		t.Helper()
		der, err := ca.RootCRL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(ca.Root()); err != nil {
			t.Fatal(err)
		}
		return crl.Number
	}
	if n := crlNumber(ca); n.Int64() != 1 {
		t.Errorf("first root CRL number %v, want 1", n)
	}
	ca.Close()
	if ca, err = Open(ctx, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if n := crlNumber(ca); n.Int64() != 2 {
		t.Errorf("root CRL number after reopen %v, want 2", n)
	}
	ca.Close()
	if err := os.Rename(filepath.Join(dir, "root.key"), filepath.Join(t.TempDir(), "root.key")); err != nil {
		t.Fatal(err)
	}
	if ca, err = Open(ctx, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if _, err := ca.RootCRL(ctx); !errors.Is(err, pki.ErrNoRootCRL) {
		t.Errorf("root offline: %v", err)
	}
}
