package desktop

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// fakeKeystore is a token in memory: PIN "1234", three tries.
type fakeKeystore struct {
	mu    sync.Mutex
	leaf  *testpki.Leaf
	tries int
}

func newFakeKeystore(t testing.TB) *fakeKeystore {
	h := testpki.NewHierarchy(t)
	return &fakeKeystore{leaf: h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Rajesh Kumar"}), tries: 3}
}

func (k *fakeKeystore) Certificates(context.Context) ([]Cert, []error) {
	c := Cert{Certificate: k.leaf.Cert, Token: "test-token", KeyType: "RSA-2048"}
	c.ID = "c0-" + c.SHA256()[:16]
	return []Cert{c}, nil
}

func (k *fakeKeystore) Open(_ context.Context, c Cert, pin []byte) (signer.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tries == 0 {
		return nil, &signer.PINError{TriesLeft: 0, Err: signer.ErrPINLocked}
	}
	if string(pin) != "1234" {
		k.tries--
		if k.tries == 0 {
			return nil, &signer.PINError{TriesLeft: 0, Err: signer.ErrPINLocked}
		}
		return nil, &signer.PINError{TriesLeft: k.tries, FinalTry: k.tries == 1, Err: signer.ErrPINIncorrect}
	}
	k.tries = 3
	return signer.NewSoftware(k.leaf.Key, k.leaf.Cert, k.leaf.Chain)
}

// testPortal records the results POSTed to its /cb.
type testPortal struct {
	*httptest.Server
	mu      sync.Mutex
	results []*callback.Result
	got     chan *callback.Result
}

func newTestPortal(t testing.TB) *testPortal {
	p := &testPortal{got: make(chan *callback.Result, 10)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/securesign-keys.json" {
			json.NewEncoder(w).Encode(deeplink.KeySet{Keys: []deeplink.PublicKey{linkKey(t).Public()}})
			return
		}
		if r.URL.Path != "/cb" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		res, err := callback.Decode(r.PostFormValue("ss_result"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.results = append(p.results, res)
		p.mu.Unlock()
		p.got <- res
	}))
	t.Cleanup(p.Close)
	return p
}

// wantFailure waits for the next result and checks it is a failure with
// code; what says what the portal should have been told, for the message.
func (p *testPortal) wantFailure(t *testing.T, code callback.Code, what string) {
	t.Helper()
	select {
	case r := <-p.got:
		if r.Success || r.Error != code {
			t.Errorf("the portal was told %+v, want %s", r, code)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the portal was not told %s", what)
	}
}

func (p *testPortal) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.results)
}

// linkKey is the portal's link-signing key for tests.
func linkKey(t testing.TB) *deeplink.SigningKey {
	seed := sha256.Sum256([]byte("desktop test link key"))
	k, err := deeplink.SigningKeyFromSeed("test-1", seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signLink(t testing.TB, origin string, key *deeplink.SigningKey, digests ...[]byte) (string, *deeplink.Request) {
	t.Helper()
	if len(digests) == 0 {
		d := sha256.Sum256([]byte("loan agreement"))
		digests = [][]byte{d[:]}
	}
	id := make([]byte, 12)
	rand.Read(id)
	req := &deeplink.Request{
		Action: deeplink.ActionSign, RequestID: "req-" + testID(id), Hashes: digests, HashAlgo: crypto.SHA256,
		CallbackURL: origin + "/cb", Origin: origin, Expires: time.Now().Add(10 * time.Minute).Truncate(time.Second),
		Doc: "Loan agreement #42.pdf",
	}
	l, err := deeplink.Build(req, key)
	if err != nil {
		t.Fatal(err)
	}
	return l, req
}

func testID(b []byte) string {
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hexd[c>>4], hexd[c&15])
	}
	return string(out)
}

func newTestApp(t testing.TB, p *testPortal, ks Keystore) *App {
	k := linkKey(t)
	return &App{
		Policy:      Policy{AllowedOrigins: []string{p.URL}},
		Keystore:    ks,
		TrustedKeys: &deeplink.KeySet{Keys: []deeplink.PublicKey{k.Public()}},
		OpenBrowser: func(context.Context, string) error { return nil },
	}
}
