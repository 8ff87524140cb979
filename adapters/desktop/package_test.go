package desktop

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/signer"
)

// TestSigningPackage: a link with a signing package is checked before the
// PIN; the digests signed are the ones the package proves; a portal that
// swaps the prepared PDF, or puts another document's digest under a
// harmless name, is refused with SS_LINK_INVALID naming the check.
func TestSigningPackage(t *testing.T) {
	ks := newFakeKeystore(t)
	prep := func(name, text string) sigpkg.Document {
		in := testpdf.Minimal(text)
		var out bytes.Buffer
		ps, err := pdf.Prepare(context.Background(), &out, bytes.NewReader(in), int64(len(in)), ks.leaf.Cert, ks.leaf.Chain, pdf.SignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sigpkg.Document{Name: name, PDF: out.Bytes(), SignedAttrs: ps.SignedAttributes(), ByteRange: ps.ByteRange()}
	}
	loan := prep("Personal Loan Agreement", "Personal Loan Agreement 4711")
	other := prep("Personal Loan Agreement", "Personal Loan Agreement 9999")
	harmless := prep("Newsletter consent", "Newsletter consent")
	digest := func(d sigpkg.Document) []byte {
		h := crypto.SHA256.New()
		h.Write(d.SignedAttrs)
		return h.Sum(nil)
	}

	var mu sync.Mutex
	packages := map[string][]byte{}
	results := make(chan *callback.Result, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cb" && r.Method == http.MethodPost {
			res, err := callback.Decode(r.PostFormValue("ss_result"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			results <- res
			return
		}
		mu.Lock()
		b, ok := packages[r.URL.Path]
		mu.Unlock()
		if ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	k := linkKey(t)
	app := &App{Policy: Policy{AllowedOrigins: []string{srv.URL}}, Keystore: ks,
		TrustedKeys: &deeplink.KeySet{Keys: []deeplink.PublicKey{k.Public()}}}

	link := func(path string, docs []sigpkg.Document, hashes [][]byte) string {
		t.Helper()
		id := make([]byte, 8)
		rand.Read(id)
		reqID := "req-" + testID(id)
		raw, err := sigpkg.Build(&sigpkg.Package{RequestID: reqID, Documents: docs})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		packages[path] = raw
		mu.Unlock()
		l, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: reqID, Hashes: hashes,
			HashAlgo: crypto.SHA256, CallbackURL: srv.URL + "/cb", Origin: srv.URL, Expires: time.Now().Add(10 * time.Minute),
			PackageURL: srv.URL + path, PackageSHA256: sigpkg.Digest(raw)}, k)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	// Valid, the link carrying no digest: the package's is signed.
	c, err := app.Check(context.Background(), link("/ok", []sigpkg.Document{loan}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Documents) != 1 || c.Documents[0].Name != loan.Name {
		t.Fatalf("documents %+v", c.Documents)
	}
	certs, _ := ks.Certificates(context.Background())
	res, err := app.Sign(context.Background(), c, certs[0], []byte("1234"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := res.Signatures()
	if err != nil || len(sigs) != 1 {
		t.Fatalf("%d signatures (%v)", len(sigs), err)
	}
	if err := signer.VerifyDigest(ks.leaf.Cert.PublicKey, signer.DefaultAlgorithm(ks.leaf.Cert.PublicKey), crypto.SHA256, digest(loan), sigs[0]); err != nil {
		t.Fatalf("the signature is not over the package's digest: %v", err)
	}

	swapped := loan
	swapped.PDF = other.PDF
	attacks := []struct {
		name, path string
		docs       []sigpkg.Document
		hashes     [][]byte
		check      string
	}{
		{"swapped PDF", "/swapped", []sigpkg.Document{swapped}, [][]byte{digest(loan)}, sigpkg.CheckMessageDigest},
		{"other digest under a harmless name", "/harmless", []sigpkg.Document{harmless}, [][]byte{digest(loan)}, sigpkg.CheckDigest},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			c, err := app.Check(context.Background(), link(a.path, a.docs, a.hashes))
			if err == nil || c == nil || !strings.Contains(err.Error(), a.check) {
				t.Fatalf("got %v, want a refusal naming %s", err, a.check)
			}
			if got := Code(err); got != callback.CodeLinkInvalid {
				t.Fatalf("code %s, want SS_LINK_INVALID", got)
			}
			if _, err := app.Sign(context.Background(), c, certs[0], []byte("1234")); err == nil {
				t.Fatal("a refused package was signed")
			}
			// Headless: refused before the PIN is used, and reported.
			res, err := app.Headless(context.Background(), link(a.path+"/headless", a.docs, a.hashes), HeadlessOptions{PIN: []byte("1234")})
			if err == nil || res == nil || res.Success || res.Error != callback.CodeLinkInvalid || !strings.Contains(res.Message, a.check) {
				t.Fatalf("headless: %+v, %v", res, err)
			}
			if got := <-results; got.Success || got.Error != callback.CodeLinkInvalid {
				t.Fatalf("the portal got %+v", got)
			}
		})
	}
}
