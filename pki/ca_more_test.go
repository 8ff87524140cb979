package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

func TestIssueKeyGenAndLoadSigner(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	for _, kt := range []KeyType{P256, RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			cert, id, err := tc.IssueKeyGen(ctx, kt, individual, "")
			if err != nil {
				t.Fatal(err)
			}
			rec, err := tc.Lookup(ctx, cert.SerialNumber)
			if err != nil || rec.KeyID != id {
				t.Fatalf("record %+v, %v; want key id %s", rec, err, id)
			}
			s, err := tc.LoadSigner(ctx, cert.SerialNumber)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("document"))
			sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if err := signer.VerifyDigest(s.Certificate().PublicKey, signer.DefaultAlgorithm(s.Public()), crypto.SHA256, digest[:], sig); err != nil {
				t.Fatal(err)
			}
			if len(s.Chain()) != 2 {
				t.Errorf("chain of %d, want issuing CA and root", len(s.Chain()))
			}
		})
	}
	// The key blobs are sealed: no PKCS#8 header in the store.
	for id, b := range tc.Store().(*MemoryStore).keys {
		if bytes.Contains(b, []byte{0x30, 0x82}) && bytes.Contains(b, []byte("PRIVATE")) {
			t.Errorf("key %s looks unencrypted", id)
		}
	}
	csrCert, _ := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
	if _, err := tc.LoadSigner(ctx, csrCert.SerialNumber); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadSigner for a CSR certificate: %v, want ErrNotFound", err)
	}
	wrong, _ := NewSoftwareKeyStore(tc.Store(), bytes.Repeat([]byte{7}, 32))
	for id := range tc.Store().(*MemoryStore).keys {
		if _, err := wrong.Signer(ctx, id); !errors.Is(err, ErrKeyStoreLocked) {
			t.Errorf("wrong master secret: %v, want ErrKeyStoreLocked", err)
		}
	}
}

// ocspRequestWithNonce builds a request for cert with a nonce extension.
func ocspRequestWithNonce(t *testing.T, cert, issuer *x509.Certificate, nonce []byte) []byte {
	t.Helper()
	nh, kh, err := issuerHashes(issuer, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	nv, _ := asn1.Marshal(nonce)
	der, err := asn1.Marshal(ocspRequestASN1{TBSRequest: ocspTBSRequest{
		RequestList: []ocspSingleRequest{{Cert: ocspCertID{
			HashAlgorithm: pkixAlg(ocspHashOIDs[crypto.SHA256]), NameHash: nh, IssuerKeyHash: kh, SerialNumber: cert.SerialNumber,
		}}},
		Extensions: extNonce(nv),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestOCSPResponder(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	cert, _ := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
	foreign := testpki.NewHierarchy(t)
	foreignLeaf := foreign.Issue(t, testpki.P256, testpki.Options{})
	notIssued := *cert
	notIssued.SerialNumber = big.NewInt(424242)

	post := func(t *testing.T, der []byte) []byte {
		resp, err := http.Post(tc.srv.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(der))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" {
			t.Errorf("Content-Type %q", ct)
		}
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	get := func(t *testing.T, der []byte) []byte {
		resp, err := http.Get(tc.srv.URL + "/ocsp/" + strings.ReplaceAll(base64.StdEncoding.EncodeToString(der), "+", "%2B"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	stdReq := func(c, issuer *x509.Certificate) []byte {
		der, err := ocsp.CreateRequest(c, issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	for _, tt := range []struct {
		name   string
		send   func(*testing.T, []byte) []byte
		req    []byte
		cert   *x509.Certificate
		status int // ocsp.Good, Revoked, Unknown; -1: error response
		errTo  error
	}{
		{"POST good", post, stdReq(cert, tc.Certificate()), cert, ocsp.Good, nil},
		{"GET good", get, stdReq(cert, tc.Certificate()), cert, ocsp.Good, nil},
		{"SHA-256 CertID with nonce", post, ocspRequestWithNonce(t, cert, tc.Certificate(), []byte("0123456789abcdef")), cert, ocsp.Good, nil},
		{"not issued here", post, stdReq(&notIssued, tc.Certificate()), &notIssued, ocsp.Unknown, nil},
		{"other CA", post, stdReq(foreignLeaf.Cert, foreign.Intermediate.Cert), nil, -1, ocsp.ResponseError{Status: ocsp.Unauthorized}},
		{"garbage POST", post, []byte("garbage"), nil, -1, ocsp.ResponseError{Status: ocsp.Malformed}},
		{"garbage GET", get, []byte("garbage"), nil, -1, ocsp.ResponseError{Status: ocsp.Malformed}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.send(t, tt.req)
			resp, err := ocsp.ParseResponseForCert(body, tt.cert, tc.Certificate())
			if tt.status == -1 {
				var re ocsp.ResponseError
				if !errors.As(err, &re) || re != tt.errTo {
					t.Fatalf("error %v, want %v", err, tt.errTo)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status {
				t.Errorf("status %d, want %d", resp.Status, tt.status)
			}
			if resp.Certificate == nil || !resp.Certificate.Equal(tc.OCSPSigner().Certificate()) {
				t.Error("response not signed by the delegated responder")
			}
		})
	}
	t.Run("GET with // in the base64", func(t *testing.T) {
		var der []byte
		// Random nonces (ASCII could never give twelve 1 bits in a row).
		for range 100000 {
			nonce := make([]byte, 16)
			rand.Read(nonce)
			der = ocspRequestWithNonce(t, cert, tc.Certificate(), nonce)
			if strings.Contains(base64.StdEncoding.EncodeToString(der), "//") {
				break
			}
		}
		resp, err := http.Get(tc.srv.URL + "/ocsp/" + base64.StdEncoding.EncodeToString(der))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r, err := ocsp.ParseResponseForCert(body, cert, tc.Certificate()); err != nil || r.Status != ocsp.Good {
			t.Fatalf("%s: %v", resp.Status, err)
		}
	})
	t.Run("nonce echoed", func(t *testing.T) {
		nonce := []byte("fedcba9876543210")
		body := post(t, ocspRequestWithNonce(t, cert, tc.Certificate(), nonce))
		var r ocspResponseASN1
		var basic ocspBasicResponse
		if _, err := asn1.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if _, err := asn1.Unmarshal(r.Response.Response, &basic); err != nil {
			t.Fatal(err)
		}
		want, _ := asn1.Marshal(nonce)
		exts := basic.TBSResponseData.Extensions
		if len(exts) != 1 || !exts[0].Id.Equal(oidOCSPNonce) || !bytes.Equal(exts[0].Value, want) {
			t.Errorf("response extensions %+v, want the nonce", exts)
		}
	})
	t.Run("method", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, tc.srv.URL+"/ocsp", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("PUT: %s", resp.Status)
		}
	})
}

func TestHandlerEndpoints(t *testing.T) {
	tc := newTestCA(t)
	for _, tt := range []struct {
		path, ctype string
		check       func([]byte) error
	}{
		{"/ca.pem", "application/x-pem-file", func(b []byte) error {
			certs, err := ParseCertificates(b)
			if err == nil && (len(certs) != 2 || !certs[0].Equal(tc.Certificate()) || !certs[1].Equal(tc.Root())) {
				err = errors.New("want issuing CA then root")
			}
			return err
		}},
		{"/ca.crt", "application/pkix-cert", func(b []byte) error { _, err := x509.ParseCertificate(b); return err }},
		{"/crl", "application/pkix-crl", func(b []byte) error {
			crl, err := x509.ParseRevocationList(b)
			if err == nil {
				err = crl.CheckSignatureFrom(tc.Certificate())
			}
			return err
		}},
	} {
		resp, err := http.Get(tc.srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.ctype {
			t.Errorf("%s: %s %q", tt.path, resp.Status, resp.Header.Get("Content-Type"))
		}
		if err := tt.check(b); err != nil {
			t.Errorf("%s: %v", tt.path, err)
		}
	}
}

func TestCRLNumbersIncrease(t *testing.T) {
	ctx := context.Background()
	tc := newTestCA(t)
	var last *big.Int
	for i := range 3 {
		c, _ := tc.IssueCSR(ctx, makeCSR(t, testpki.Key(t, testpki.P256, 0), "x"), individual, "")
		if err := tc.Revoke(ctx, c.SerialNumber, ReasonSuperseded); err != nil {
			t.Fatal(err)
		}
		der, err := tc.CRL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		crl, _ := x509.ParseRevocationList(der)
		if len(crl.RevokedCertificateEntries) != i+1 {
			t.Errorf("CRL %d lists %d", i, len(crl.RevokedCertificateEntries))
		}
		if last != nil && crl.Number.Cmp(last) <= 0 {
			t.Errorf("CRL number %v after %v", crl.Number, last)
		}
		if !crl.NextUpdate.After(crl.ThisUpdate) {
			t.Error("no nextUpdate")
		}
		last = crl.Number
	}
}

func TestCustomProfiles(t *testing.T) {
	ctx := context.Background()
	h, err := NewHierarchy(ctx, HierarchyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	base := Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), Store: NewMemoryStore()}
	profiles := DefaultProfiles(asn1.ObjectIdentifier{2, 16, 356, 100, 2, 3})
	class2 := *profiles[ProfileIndividualSigning]
	class2.Validity = 24 * time.Hour
	class2.Keys = KeyRules{Curves: []string{"P-384"}}
	profiles["class-2-short"] = &class2

	cfg := base
	cfg.Profiles = profiles
	ca, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(ctx, testpki.Key(t, testpki.P256, 0).Public(), individual, "class-2-short"); !errors.Is(err, ErrWeakKey) {
		t.Errorf("P-256 under a P-384-only profile: %v", err)
	}
	c, err := ca.Issue(ctx, testpki.Key(t, testpki.P384, 0).Public(), individual, "class-2-short")
	if err != nil {
		t.Fatal(err)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d > 25*time.Hour {
		t.Errorf("validity %v, want about a day", d)
	}
	if len(c.Policies) != 1 || c.Policies[0].String() != "2.16.356.100.2.3" {
		t.Errorf("policies %v", c.Policies)
	}
	rec, _ := ca.Lookup(ctx, c.SerialNumber)
	if rec.Profile != "class-2-short" {
		t.Errorf("stored profile %q", rec.Profile)
	}

	for name, bad := range map[string]map[string]*Profile{
		"no validity": {"x": {KeyUsage: 1, Keys: defaultKeyRules}, ProfileOCSP: profiles[ProfileOCSP], ProfileTSA: profiles[ProfileTSA]},
		"weak rsa":    {"x": {Validity: time.Hour, KeyUsage: 1, Keys: KeyRules{MinRSABits: 1024}}, ProfileOCSP: profiles[ProfileOCSP], ProfileTSA: profiles[ProfileTSA]},
		"no ocsp":     {ProfileTSA: profiles[ProfileTSA]},
	} {
		cfg := base
		cfg.Profiles = bad
		if _, err := New(ctx, cfg); err == nil {
			t.Errorf("%s: New accepted the profiles", name)
		}
	}
}

// TestRSAHierarchy runs a CA on RSA-3072 keys with an RSA OCSP responder
// and TSA, checked by openssl.
func TestRSAHierarchy(t *testing.T) {
	ctx := context.Background()
	h, err := NewHierarchy(ctx, HierarchyOptions{Name: "RSA", RootKey: testpki.Key(t, testpki.RSA3072, 1000), IssuingKey: testpki.Key(t, testpki.RSA3072, 501)})
	if err != nil {
		t.Fatal(err)
	}
	boot, err := New(ctx, Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), Store: NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	service := func(profile string, slot int) signer.Signer {
		k := testpki.Key(t, testpki.RSA2048, slot)
		c, err := boot.Issue(ctx, k.Public(), Subject{CommonName: "RSA " + profile}, profile)
		if err != nil {
			t.Fatal(err)
		}
		s, err := signer.NewSoftware(k, c, boot.ChainCerts())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tc := newTestCA(t) // for its server and temp dir; the handler is swapped below
	ca, err := New(ctx, Config{Cert: h.Issuing, Key: h.IssuingKey, Chain: h.chain(), Store: boot.Store(), BaseURL: tc.srv.URL,
		OCSPSigner: service(ProfileOCSP, 502), TSASigner: service(ProfileTSA, 503)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ca.Handler())
	defer srv.Close()
	cert, err := ca.Issue(ctx, testpki.Key(t, testpki.P256, 0).Public(), individual, "")
	if err != nil {
		t.Fatal(err)
	}
	root := tc.writePEM(t, "rsa-root.pem", h.Root)
	inter := tc.writePEM(t, "rsa-inter.pem", h.Issuing)
	leaf := tc.writePEM(t, "rsa-leaf.pem", cert)
	out := runOpenSSL(t, "ocsp", "-issuer", inter, "-cert", leaf, "-url", srv.URL+"/ocsp", "-CAfile", root, "-verify_other", inter)
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, ": good") {
		t.Fatal(out)
	}
	sum := sha256.Sum256([]byte("x"))
	tok, err := (&TSAClient{URL: srv.URL + "/tsa"}).Timestamp(ctx, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(tc.dir, "rsa-token.der")
	os.WriteFile(tokFile, tok, 0o600)
	out = runOpenSSL(t, "ts", "-verify", "-token_in", "-in", tokFile, "-digest", fmt.Sprintf("%x", sum), "-CAfile", root, "-untrusted", inter)
	if !strings.Contains(out, "Verification: OK") {
		t.Fatal(out)
	}
	resp, err := http.Get(srv.URL + "/tsa")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /tsa: %s", resp.Status)
	}
}
