package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/securesign/securesign/internal/testpki"
)

// testCA is a dev CA served by an httptest server.
type testCA struct {
	*CA
	srv *httptest.Server
	dir string
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	var h atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ca, err := NewDev(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	h.Store(ca.Handler())
	return &testCA{CA: ca, srv: srv, dir: t.TempDir()}
}

// writePEM writes certificates to a file in the CA's temp dir.
func (tc *testCA) writePEM(t testing.TB, name string, certs ...*x509.Certificate) string {
	t.Helper()
	p := filepath.Join(tc.dir, name)
	if err := os.WriteFile(p, testpki.PEM(certs...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var individual = Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001", Country: "IN"}

func makeCSR(t testing.TB, key crypto.Signer, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func pkixAlg(oid asn1.ObjectIdentifier) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue}
}

func extNonce(value []byte) []pkix.Extension {
	return []pkix.Extension{{Id: oidOCSPNonce, Value: value}}
}
