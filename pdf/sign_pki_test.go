package pdf

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// Compile-time proof that the pki client types fit the interfaces.
var (
	_ Timestamper      = (*pki.TSAClient)(nil)
	_ RevocationSource = (*pki.RevocationChecker)(nil)
)

// TestSignWithPKIServices signs B-LTA against the project's own CA served
// over loopback HTTP: its RFC 3161 TSA and its OCSP responder/CRL, through
// pki.TSAClient and pki.RevocationChecker.
func TestSignWithPKIServices(t *testing.T) {
	ctx := context.Background()
	srv, hier, _, s := servedCA(t, "PDF Test")
	out := filepath.Join(t.TempDir(), "out.pdf")
	opts := SignOptions{
		Level:             LevelBLTA,
		Timestamper:       &pki.TSAClient{URL: srv.URL + "/tsa"},
		Revocation:        pki.NewRevocationChecker(pki.RevocationOptions{Timeout: 5 * time.Second}),
		ExtraCertificates: []*x509.Certificate{hier.Root},
	}
	if err := SignFile(ctx, sgInput(t, "forms"), out, s, opts); err != nil {
		t.Fatal(err)
	}
	v := sgNewValidatorsRoot(t, hier.Root)
	v.check(t, out, 2)
	pool := x509.NewCertPool()
	pool.AddCert(hier.Root)
	rep, err := VerifyFile(ctx, out, VerifyOptions{Roots: pool})
	if err != nil {
		t.Fatal(err)
	}
	// The DSS holds the leaf's OCSP/CRL data and the root-signed CRL about
	// the issuing CA, so the validator, offline (embedded data only), sees
	// every certificate below the root good: B-LTA, not just B-T.
	if len(rep.Signatures) != 2 {
		t.Fatalf("%d signatures reported, want the signature and the document timestamp", len(rep.Signatures))
	}
	sig := rep.Signatures[0]
	if sig.Level != string(LevelBLTA) || sig.Revocation != "good" {
		t.Errorf("level %q, revocation %q; want B-LTA with good revocation", sig.Level, sig.Revocation)
	}
}

// servedCA is the project's own CA behind a loopback HTTP server (its TSA
// at /tsa, OCSP and CRLs) and a software signer with a certificate it
// issued. BaseURL makes the issuing CA certificate name the root-signed
// CRL that the CA serves with RootKey, so a DSS can cover it too.
func servedCA(t *testing.T, name string) (*httptest.Server, *pki.Hierarchy, *pki.CA, signer.Signer) {
	t.Helper()
	ctx := context.Background()
	var h http.Handler = http.NotFoundHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	hier, err := pki.NewHierarchy(ctx, pki.HierarchyOptions{Name: name, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.New(ctx, pki.Config{Cert: hier.Issuing, Key: hier.IssuingKey, Chain: []*x509.Certificate{hier.Root},
		RootKey: hier.RootKey, Store: pki.NewMemoryStore(), BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h = ca.Handler()
	key := testpki.Key(t, testpki.P256, 0)
	cert, err := ca.Issue(ctx, key.Public(), pki.Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001"}, "individual-signing")
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.NewSoftware(key, cert, []*x509.Certificate{hier.Issuing})
	if err != nil {
		t.Fatal(err)
	}
	return srv, hier, ca, s
}
