package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testpki"
)

// TestCAOnToken: the issuing CA's key lives on a PKCS#11 token (SoftHSM);
// certificates the gateway issues chain to the configured root.
func TestCAOnToken(t *testing.T) {
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	tok.Import(t, "issuing-ca", h.Intermediate.Key, h.Intermediate.Cert)
	chainFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(chainFile, testpki.PEM(h.Root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newTestGW(t, nil, func(c *Config) {
		c.CAPKCS11 = &PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "issuing-ca", PIN: []byte(tok.PIN)}
		c.CAChainFile = chainFile
	})
	t.Cleanup(func() { g.srv.Close() })
	k := testpki.Key(t, testpki.P256, 40)
	issued := g.issueCSR(g.key, "token-ca", k)
	blk, _ := pem.Decode([]byte(issued["certificatePem"].(string)))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	inter := x509.NewCertPool()
	inter.AddCert(h.Intermediate.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate issued with the token key does not chain: %v", err)
	}
	// And the token flow works with it end to end.
	app := appSigner(t, k, issued)
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("token ca"))})
	if code, ans := g.postResult(signLink(t, g, out["deepLink"].(string), app)); code != 200 {
		t.Fatalf("callback = %d %v", code, ans)
	}
	// A wrong PIN is a clear startup error.
	_, err = NewWithStore(t.Context(), Config{Dev: true, DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:1",
		CAPKCS11: &PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "issuing-ca", PIN: []byte("0000")}, CAChainFile: chainFile}, newSQLiteStore(t))
	if err == nil {
		t.Fatal("wrong CA PIN accepted")
	}
}
