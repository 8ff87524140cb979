package deeplink

import (
	"errors"
	"strings"
	"testing"
)

// TestPackageParams: pkgUrl and pkgSha256 (protocol 1.2 §6) round-trip,
// are covered by sig, replace the digests when the link has none, and break
// the link when malformed.
func TestPackageParams(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	key := testKey(t, "k1", 1)
	r := baseSign()
	r.Hashes = nil
	r.PackageURL = "https://portal.example.in/pkg/req_0123456789abcdef"
	r.PackageSHA256 = sum
	link, err := Build(r, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(link, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if l.PackageURL != r.PackageURL || l.PackageSHA256 != sum || len(l.Hashes) != 0 {
		t.Fatalf("round trip: %+v", l.Request)
	}
	ks := &KeySet{Keys: []PublicKey{key.Public()}}
	if err := l.Verify(ks); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(link, "abab", "abac", 1)
	if l2, err := Parse(tampered, testNow); err != nil || l2.Verify(ks) == nil {
		t.Fatalf("a changed pkgSha256 still verifies (%v)", err)
	}

	cases := []struct {
		name string
		mut  func(*Request)
		want error
	}{
		{"url without sum", func(r *Request) { r.PackageSHA256 = "" }, ErrMissingParam},
		{"sum without url", func(r *Request) { r.PackageURL = "" }, ErrMissingParam},
		{"plain http", func(r *Request) { r.PackageURL = "http://portal.example.in/p" }, ErrPackageParam},
		{"http loopback", func(r *Request) { r.PackageURL = "http://127.0.0.1:8080/p" }, nil},
		{"user info", func(r *Request) { r.PackageURL = "https://portal.example.in@evil.example/p" }, ErrPackageParam},
		{"too long", func(r *Request) {
			r.PackageURL = "https://portal.example.in/" + strings.Repeat("a", MaxPackageURLLength)
		}, ErrPackageParam},
		{"upper-case sum", func(r *Request) { r.PackageSHA256 = strings.ToUpper(sum) }, ErrPackageParam},
		{"short sum", func(r *Request) { r.PackageSHA256 = sum[:62] }, ErrPackageParam},
		{"no digests, no package", func(r *Request) { r.PackageURL, r.PackageSHA256 = "", "" }, ErrMissingParam},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr := *r
			c.mut(&rr)
			_, err := Build(&rr, key)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Build: got %v, want %v", err, c.want)
			}
		})
	}
	reg := baseRegister()
	reg.PackageURL, reg.PackageSHA256 = r.PackageURL, sum
	if _, err := Build(reg, key); !errors.Is(err, ErrUnexpectedParam) {
		t.Fatalf("register link with a package: %v", err)
	}
}
