package sigpkg

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpki"
)

// fresh prepares documents now, so the test also covers
// pdf.PreparedSignature's accessors (the vectors are generated once).
func fresh(t *testing.T, names ...string) []Document {
	t.Helper()
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{Slot: 1})
	var docs []Document
	for _, n := range names {
		docs = append(docs, prepared(t, leaf, n, n+" text"))
	}
	return docs
}

func TestBuildCheck(t *testing.T) {
	docs := fresh(t, "Loan", "Mandate")
	raw, err := Build(&Package{RequestID: "req_12345678", Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	exp := Expect{RequestID: "req_12345678", HashAlgo: crypto.SHA256, PackageSHA256: Digest(raw), Hashes: [][]byte{digestOf(docs[0]), digestOf(docs[1])}}
	got, err := Check(raw, exp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Name != "Mandate" || !bytes.Equal(got[0].PDF, docs[0].PDF) {
		t.Fatalf("unexpected result %+v", got)
	}

	cases := []struct {
		name  string
		exp   func(Expect) Expect
		check string
	}{
		{"other request", func(e Expect) Expect { e.RequestID = "req_other123"; return e }, CheckRequest},
		{"other hash", func(e Expect) Expect { e.HashAlgo = crypto.SHA512; return e }, CheckRequest},
		{"fewer digests", func(e Expect) Expect { e.Hashes = e.Hashes[:1]; return e }, CheckRequest},
		{"swapped digests", func(e Expect) Expect { e.Hashes = [][]byte{e.Hashes[1], e.Hashes[0]}; return e }, CheckDigest},
		{"no pkgSha256", func(e Expect) Expect { e.PackageSHA256 = ""; return e }, CheckPackageHash},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Check(raw, c.exp(exp), nil)
			var e *Error
			if !errors.As(err, &e) || e.Check != c.check {
				t.Fatalf("got %v, want check %s", err, c.check)
			}
			if !errors.Is(err, deeplink.ErrPackage) || callback.CodeOf(err) != callback.CodeLinkInvalid {
				t.Fatalf("%v maps to %s, want SS_LINK_INVALID", err, callback.CodeOf(err))
			}
			if !strings.Contains(err.Error(), c.check) {
				t.Fatalf("message %q does not name the check", err)
			}
		})
	}
}

func TestCheckDocumentHostile(t *testing.T) {
	d := fresh(t, "Loan")[0]
	a, b := d.ByteRange[1], d.ByteRange[2]
	filled := bytes.Clone(d.PDF)
	filled[a+1] = '3' // a signature already in the gap
	cases := []struct {
		name  string
		attrs []byte
		br    [4]int64
		pdf   []byte
		check string
	}{
		{"gap not empty", d.SignedAttrs, d.ByteRange, filled, CheckByteRange},
		{"range not from 0", d.SignedAttrs, [4]int64{1, a, b, d.ByteRange[3]}, d.PDF, CheckByteRange},
		{"gap shifted", d.SignedAttrs, [4]int64{0, a - 1, b - 1, d.ByteRange[3] + 1}, d.PDF, CheckByteRange},
		{"gap widened", d.SignedAttrs, [4]int64{0, a - 10, b, d.ByteRange[3]}, d.PDF, CheckByteRange},
		{"huge numbers", d.SignedAttrs, [4]int64{0, 1 << 62, 1 << 62, 1 << 62}, d.PDF, CheckByteRange},
		{"negative", d.SignedAttrs, [4]int64{0, a, b, -1}, d.PDF, CheckByteRange},
		{"attrs not a set", append([]byte{0x30}, d.SignedAttrs[1:]...), d.ByteRange, d.PDF, CheckSignedAttrs},
		{"attrs trailing", append(bytes.Clone(d.SignedAttrs), 0), d.ByteRange, d.PDF, CheckSignedAttrs},
		{"attrs empty set", []byte{0x31, 0}, d.ByteRange, d.PDF, CheckSignedAttrs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := CheckDocument(crypto.SHA256, c.attrs, c.br, c.pdf)
			if err == nil || err.Check != c.check {
				t.Fatalf("got %v, want check %s", err, c.check)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	d := fresh(t, "Loan")[0]
	big := bytes.Repeat([]byte{' '}, MaxPackageSize+1)
	if _, err := Parse(big); err == nil {
		t.Fatal("oversize package accepted")
	}
	bad := []func(*Document){
		func(d *Document) { d.Name = "" },
		func(d *Document) { d.Name = "Loan\u202e" },
		func(d *Document) { d.Name = strings.Repeat("x", 201) },
		func(d *Document) { d.PDFURL = "https://sign.example.in/a.pdf" },                              // both
		func(d *Document) { d.PDF, d.PDFURL = nil, "http://sign.example.in/a.pdf" },                   // plain http
		func(d *Document) { d.PDF, d.PDFURL, d.PDFSHA256 = nil, "https://sign.example.in/a.pdf", "" }, // no hash
		func(d *Document) { d.PDFSHA256 = Digest(nil) },                                               // hash without URL
		func(d *Document) { d.SignedAttrs = make([]byte, MaxSignedAttrsSize+1) },
	}
	for i, mut := range bad {
		dd := d
		mut(&dd)
		if _, err := Build(&Package{RequestID: "req_12345678", Documents: []Document{dd}}); err == nil {
			t.Errorf("case %d: Build accepted %+v", i, dd.Name)
		}
	}
}

// server serves a package (and PDFs) over TLS; mux routes are set by the
// test.
func tlsServer(t *testing.T, mux *http.ServeMux) (*httptest.Server, *Fetcher) {
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv, &Fetcher{Client: srv.Client(), Timeout: 5 * time.Second}
}

func linkFor(t *testing.T, origin, pkgURL, sum string, reqID string, hashes [][]byte) *deeplink.Link {
	t.Helper()
	return &deeplink.Link{Request: deeplink.Request{Action: deeplink.ActionSign, RequestID: reqID, HashAlgo: crypto.SHA256,
		Hashes: hashes, Origin: origin, PackageURL: pkgURL, PackageSHA256: sum}}
}

func TestFetcher(t *testing.T) {
	docs := fresh(t, "Loan", "Mandate")
	byURL := docs[1]
	byURL.PDF = nil
	mux := http.NewServeMux()
	srv, f := tlsServer(t, mux)
	byURL.PDFURL = srv.URL + "/d/2.pdf"
	byURL.PDFSHA256 = Digest(docs[1].PDF)
	raw, err := Build(&Package{RequestID: "req_12345678", Documents: []Document{docs[0], byURL}})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/p", func(w http.ResponseWriter, r *http.Request) { w.Write(raw) })
	mux.HandleFunc("/d/2.pdf", func(w http.ResponseWriter, r *http.Request) { w.Write(docs[1].PDF) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(bytes.Repeat([]byte{' '}, 2048)) })
	mux.HandleFunc("/bigchunked", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte{' '})
		w.(http.Flusher).Flush() // no Content-Length: the body is cut by reading
		w.Write(bytes.Repeat([]byte{' '}, 2048))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/p", http.StatusFound)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/p", http.StatusFound) })
	hashes := [][]byte{digestOf(docs[0]), digestOf(docs[1])}

	got, err := f.Verify(context.Background(), linkFor(t, srv.URL, srv.URL+"/p", Digest(raw), "req_12345678", hashes))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[1].PDF, docs[1].PDF) {
		t.Fatal("PDF by URL not returned")
	}
	if _, err := f.Verify(context.Background(), linkFor(t, srv.URL, srv.URL+"/here", Digest(raw), "req_12345678", hashes)); err != nil {
		t.Fatalf("same-origin redirect: %v", err)
	}

	small := *f
	small.MaxBytes = 1024
	slow := *f
	slow.Timeout = 200 * time.Millisecond
	gw := *f
	gw.PackageOrigins = []string{srv.URL}
	cases := []struct {
		name   string
		f      *Fetcher
		origin string
		path   string
		want   string
	}{
		{"other origin", f, "https://sign.example.in", "/p", srv.URL + " is not the link's origin nor a package origin"},
		{"gateway origin", &gw, "https://sign.example.in", "/p", ""},
		{"redirect away", f, srv.URL, "/away", "redirect"},
		{"oversize", &small, srv.URL, "/big", "at most 1024"},
		{"oversize chunked", &small, srv.URL, "/bigchunked", "larger than 1024"},
		{"slow", &slow, srv.URL, "/slow", "deadline"},
		{"not found", f, srv.URL, "/nothing", "404"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.f.Verify(context.Background(), linkFor(t, c.origin, srv.URL+c.path, Digest(raw), "req_12345678", hashes))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, deeplink.ErrPackage) {
				t.Fatalf("got %v, want an ErrPackage containing %q", err, c.want)
			}
		})
	}

	// The origin refused is named, as a cause the app can act on.
	_, err = f.Verify(context.Background(), linkFor(t, "https://sign.example.in", srv.URL+"/p", Digest(raw), "req_12345678", hashes))
	var oe *OriginError
	if !errors.As(err, &oe) || oe.Origin != srv.URL {
		t.Fatalf("got %v, want an *OriginError for %s", err, srv.URL)
	}

	// A PDF whose bytes differ from pdfSha256.
	mux.HandleFunc("/d/2.pdf.swapped", func(w http.ResponseWriter, r *http.Request) { w.Write(docs[0].PDF) })
	byURL.PDFURL = srv.URL + "/d/2.pdf.swapped"
	raw2, _ := Build(&Package{RequestID: "req_12345678", Documents: []Document{docs[0], byURL}})
	mux.HandleFunc("/p2", func(w http.ResponseWriter, r *http.Request) { w.Write(raw2) })
	_, err = f.Verify(context.Background(), linkFor(t, srv.URL, srv.URL+"/p2", Digest(raw2), "req_12345678", hashes))
	var e *Error
	if !errors.As(err, &e) || e.Check != CheckPDFHash || e.Document != 2 {
		t.Fatalf("got %v, want pdf-hash of document 2", err)
	}
}

// TestParseOrigin: a package origin is https (http to loopback), without
// path or query, and comes back canonical.
func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Sign.Example.in":      "https://sign.example.in",
		"https://sign.example.in:443/": "https://sign.example.in",
		"https://sign.example.in:8443": "https://sign.example.in:8443",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"http://localhost:8080":        "http://localhost:8080",
		"http://[::1]:8080":            "http://[::1]:8080",
	} {
		if got, err := ParseOrigin(in); err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "sign.example.in", "http://sign.example.in", "ftp://sign.example.in", "https://sign.example.in/v1/packages",
		"https://sign.example.in?x=1", "https://sign.example.in#f", "https://u@sign.example.in", "https://",
	} {
		if got, err := ParseOrigin(in); err == nil {
			t.Errorf("ParseOrigin(%q) = %q, want an error", in, got)
		}
	}
}

// TestParseMembers: members differing only in case, or repeated, are
// refused (Go's decoder would read them another way than other readers).
func TestParseMembers(t *testing.T) {
	ok := `{"version":"1.2","requestId":"r","hashAlgo":"SHA256","extra":{"x":[1,{"y":2}]},"documents":[{"name":"a","pdf":"PA==","signedAttrs":"MQA=","byteRange":[0,1,2,0]}]}`
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(ok, `"name":"a"`, `"name":"a","Name":"b"`, 1),
		strings.Replace(ok, `"name":"a"`, `"name":"a","name":"b"`, 1),
		strings.Replace(ok, `"pdf":`, `"PDF":`, 1),
		strings.Replace(ok, `"version":"1.2"`, `"version":"1.2","version":"1.2"`, 1),
	} {
		_, err := Parse([]byte(bad))
		var e *Error
		if !errors.As(err, &e) || e.Check != CheckFormat {
			t.Errorf("%s: got %v, want a format error", bad, err)
		}
	}
}

// FuzzParseOrigin: what ParseOrigin accepts is https or loopback http, and
// its canonical form is a fixed point.
func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{"https://Sign.Example.in:443/", "http://[::1]:8080", "http://localhost", "https://a/b", "http://10.0.0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOrigin(s)
		if err != nil {
			return
		}
		if o2, err := ParseOrigin(o); err != nil || o2 != o {
			t.Fatalf("ParseOrigin(%q) = %q, again %q, %v", s, o, o2, err)
		}
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://127.0.0.1") && !strings.HasPrefix(o, "http://[::1]") && !strings.HasPrefix(o, "http://localhost") {
			t.Fatalf("ParseOrigin(%q) = %q: neither https nor loopback", s, o)
		}
	})
}

// TestMissing: only a sign link without a package is refused for it.
func TestMissing(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    deeplink.Link
		want bool
	}{
		{"sign, no package", deeplink.Link{Request: deeplink.Request{Action: deeplink.ActionSign}}, true},
		{"sign, package", deeplink.Link{Request: deeplink.Request{Action: deeplink.ActionSign, PackageURL: "https://g.example/p"}}, false},
		{"register", deeplink.Link{Request: deeplink.Request{Action: deeplink.ActionRegister}}, false},
	} {
		e := Missing(&tc.l)
		if (e != nil) != tc.want {
			t.Errorf("%s: %v", tc.name, e)
			continue
		}
		if e != nil && (e.Check != CheckPresent || !errors.Is(e, deeplink.ErrPackage)) {
			t.Errorf("%s: %v, check %q", tc.name, e, e.Check)
		}
	}
}
