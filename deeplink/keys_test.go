package deeplink

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestKeySetJSON(t *testing.T) {
	k1, k2 := testKey(t, "a", 1), testKey(t, "b.2_x-y", 2)
	ks := KeySet{Keys: []PublicKey{k1.Public(), k2.Public()}}
	data, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	var back KeySet
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ks, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	x := func(b byte) string {
		k := testKey(t, "z", b).Public()
		d, _ := json.Marshal(KeySet{Keys: []PublicKey{k}})
		var v struct{ Keys []map[string]string }
		_ = json.Unmarshal(d, &v)
		return v.Keys[0]["x"]
	}
	tests := []struct {
		name, json string
		keys       int
		err        bool
	}{
		{"other key types skipped", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},{"kty":"OKP","crv":"X25519","kid":"x","x":"` + x(3) + `"},{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + x(4) + `"}]}`, 1, false},
		{"encryption key skipped", `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","kid":"e","x":"` + x(4) + `"}]}`, 0, false},
		{"empty", `{"keys":[]}`, 0, false},
		{"no keys member", `{}`, 0, true},
		{"duplicate kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + x(4) + `"},{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + x(5) + `"}]}`, 0, true},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"AAAA"}]}`, 0, true},
		{"padded x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + x(4) + `="}]}`, 0, true},
		{"no kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x(4) + `"}]}`, 0, true},
		{"trailing data", `{"keys":[]} {}`, 0, true},
		{"not JSON", `keys`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := ParseKeySet([]byte(tc.json))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %t", err, tc.err)
			}
			if err == nil && len(ks.Keys) != tc.keys {
				t.Errorf("%d keys, want %d", len(ks.Keys), tc.keys)
			}
			if err != nil && !errors.Is(err, ErrKeySet) {
				t.Errorf("%v does not wrap ErrKeySet", err)
			}
		})
	}
}

func TestSigningKeyPEM(t *testing.T) {
	k, err := NewSigningKey("kid-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSigningKeyPEM("kid-1", p)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Key.Equal(k.Key) {
		t.Error("PEM round trip changed the key")
	}
	if _, err := ParseSigningKeyPEM("kid-1", []byte("garbage")); !errors.Is(err, ErrKeySet) {
		t.Errorf("garbage PEM: %v", err)
	}
	if _, err := NewSigningKey("bad kid", nil); !errors.Is(err, ErrKeySet) {
		t.Errorf("bad kid: %v", err)
	}
}

func TestRegisterDigest(t *testing.T) {
	ch := bytes.Repeat([]byte{0xfb}, 32)
	d := RegisterDigest("https://portal.example.in", "reg-12345678", ch)
	if len(d) != 32 {
		t.Fatalf("%d bytes", len(d))
	}
	for _, other := range [][]byte{
		RegisterDigest("https://portal.example.in:8443", "reg-12345678", ch),
		RegisterDigest("https://portal.example.in", "reg-12345679", ch),
		RegisterDigest("https://portal.example.in", "reg-12345678", bytes.Repeat([]byte{0xfa}, 32)),
	} {
		if bytes.Equal(d, other) {
			t.Error("digest does not depend on all inputs")
		}
	}
}

// keyServer serves a JWKS over TLS and counts requests.
func keyServer(t *testing.T, ks *KeySet) (*httptest.Server, *atomic.Int32, *atomic.Pointer[KeySet]) {
	var n atomic.Int32
	var cur atomic.Pointer[KeySet]
	cur.Store(ks)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path != WellKnownPath {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(cur.Load())
	}))
	t.Cleanup(srv.Close)
	return srv, &n, &cur
}

func TestFetcher(t *testing.T) {
	k1, k2 := testKey(t, "old", 1), testKey(t, "new", 2)
	srv, hits, cur := keyServer(t, &KeySet{Keys: []PublicKey{k1.Public()}})
	origin := srv.URL
	now := testNow
	f := &Fetcher{Client: srv.Client(), Now: func() time.Time { return now }, TTL: 10 * time.Minute, MinRefresh: 30 * time.Second}
	ctx := context.Background()

	link := func(k *SigningKey) *Link {
		r := baseSign()
		r.CallbackURL, r.Origin = origin+"/cb", origin
		l, err := Parse(mustBuild(t, r, k), testNow)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if err := f.Verify(ctx, link(k1)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := f.Verify(ctx, link(k1)); err != nil || hits.Load() != 1 {
		t.Fatalf("second Verify: %v, %d fetches (want 1, cached)", err, hits.Load())
	}
	// Rotation: the portal publishes a new key; a link with its kid makes
	// the fetcher refetch, but not more often than MinRefresh.
	cur.Store(&KeySet{Keys: []PublicKey{k1.Public(), k2.Public()}})
	if err := f.Verify(ctx, link(k2)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new kid within MinRefresh: %v, want ErrUnknownKey", err)
	}
	now = now.Add(31 * time.Second)
	if err := f.Verify(ctx, link(k2)); err != nil {
		t.Fatalf("new kid after MinRefresh: %v", err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d fetches, want 2", hits.Load())
	}
	// A forged link with a known kid does not cause a refetch.
	forged := link(k1)
	forged.Signature = append([]byte(nil), forged.Signature...)
	forged.Signature[0] ^= 1
	if err := f.Verify(ctx, forged); !errors.Is(err, ErrSignature) || hits.Load() != 2 {
		t.Errorf("forged: %v after %d fetches", err, hits.Load())
	}
	// After the TTL the set is fetched again.
	now = now.Add(11 * time.Minute)
	if _, err := f.Keys(ctx, origin); err != nil || hits.Load() != 3 {
		t.Errorf("after TTL: %v, %d fetches", err, hits.Load())
	}
	// Legacy and unsigned links are not verifiable.
	if err := f.Verify(ctx, &Link{}); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned: %v", err)
	}
}

func TestFetcherRefuses(t *testing.T) {
	big := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", 100<<10) + `]}`))
	}))
	defer big.Close()
	redirect := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/keys.json", http.StatusFound)
	}))
	defer redirect.Close()
	slow := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	bad := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}`))
	}))
	defer bad.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	defer plain.Close()

	ctx := context.Background()
	tests := []struct {
		name   string
		srv    *httptest.Server
		origin string
		want   error
	}{
		{"too large", big, big.URL, ErrFetch},
		{"redirect", redirect, redirect.URL, ErrFetch},
		{"timeout", slow, slow.URL, ErrFetch},
		{"bad JWKS", bad, bad.URL, ErrKeySet},
		{"http on loopback is allowed", plain, plain.URL, nil},
		{"http elsewhere", plain, "http://portal.example.in", ErrOrigin},
		{"origin with path", plain, plain.URL + "/x", ErrOrigin},
		{"javascript", plain, "javascript://x", ErrOrigin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &Fetcher{Client: tc.srv.Client(), MaxBytes: 32 << 10}
			if tc.name == "timeout" {
				f.Timeout = 300 * time.Millisecond
			}
			_, err := f.Keys(ctx, tc.origin)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Keys: %v, want %v", err, tc.want)
			}
		})
	}
	// A cancelled context stops the fetch.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	f := &Fetcher{Client: slow.Client()}
	if _, err := f.Keys(cctx, slow.URL); !errors.Is(err, ErrFetch) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestQR(t *testing.T) {
	key := testKey(t, "k", 1)
	link := mustBuild(t, baseSign(), key)
	p, err := QRPNG(link)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	c, _ := qrCode(link)
	b := img.Bounds()
	scale := b.Dx() / (c.Size + 8)
	if b.Dx() != b.Dy() || scale < 1 || b.Dx() != (c.Size+8)*scale {
		t.Fatalf("PNG is %v for %d modules", b, c.Size)
	}
	// The PNG shows the code's modules, with a 4-module quiet zone.
	for y := -4; y < c.Size+4; y++ {
		for x := -4; x < c.Size+4; x++ {
			r, _, _, _ := img.At((x+4)*scale+scale/2, (y+4)*scale+scale/2).RGBA()
			dark := x >= 0 && y >= 0 && x < c.Size && y < c.Size && c.Black(x, y)
			if (r < 0x8000) != dark {
				t.Fatalf("PNG module (%d,%d) dark=%t, code says %t", x, y, r < 0x8000, dark)
			}
		}
	}
	s, err := QRSVG(link)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name
		ViewBox string `xml:"viewBox,attr"`
	}
	if err := xml.Unmarshal(s, &doc); err != nil || doc.XMLName.Local != "svg" {
		t.Fatalf("SVG does not parse: %v (%s)", err, doc.XMLName.Local)
	}
	// The SVG draws exactly the dark modules of the code, offset by the
	// 4-module quiet zone.
	drawn := map[[2]int]bool{}
	for _, m := range strings.Split(string(s), "M")[1:] {
		var x, y, w int
		if _, err := fmtSscanf(m, &x, &y, &w); err != nil {
			t.Fatalf("path %q: %v", m, err)
		}
		for i := range w {
			drawn[[2]int{x - 4 + i, y - 4}] = true
		}
	}
	dark := 0
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.Black(x, y) != drawn[[2]int{x, y}] {
				t.Fatalf("SVG module (%d,%d) differs from the code", x, y)
			}
			if c.Black(x, y) {
				dark++
			}
		}
	}
	if dark != len(drawn) {
		t.Errorf("SVG draws %d modules, the code has %d dark ones", len(drawn), dark)
	}
	// The longest allowed link still fits.
	long := "securesign://sign?" + strings.Repeat("a", MaxLinkLength-18)
	if _, err := QRPNG(long); err != nil {
		t.Errorf("2048-byte link: %v", err)
	}
	if _, err := QRSVG(long + "a"); !errors.Is(err, ErrTooLong) {
		t.Errorf("2049-byte link: %v", err)
	}
}

// TestFetcherConcurrent: a burst of verifications for one origin makes one
// request.
func TestFetcherConcurrent(t *testing.T) {
	k := testKey(t, "k", 1)
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		_ = json.NewEncoder(w).Encode(KeySet{Keys: []PublicKey{k.Public()}})
	}))
	defer srv.Close()
	f := &Fetcher{Client: srv.Client()}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := f.Keys(context.Background(), srv.URL)
			errs <- err
		})
	}
	for hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue behind the first
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("%d fetches for one origin, want 1", hits.Load())
	}
}
