package deeplink

import (
	"crypto"
	"testing"
	"time"
)

func benchRequest() *Request {
	r := baseSign()
	r.Expires = time.Now().Add(10 * time.Minute)
	r.Doc = "Loan agreement 42"
	r.Hashes = append(r.Hashes, digest(crypto.SHA256, "2"), digest(crypto.SHA256, "3"))
	return r
}

// BenchmarkBuildSign: a portal building and signing a 3-digest link.
func BenchmarkBuildSign(b *testing.B) {
	key := testKey(b, "k", 1)
	r := benchRequest()
	for b.Loop() {
		if _, err := Build(r, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseVerify: an app parsing, checking and verifying it.
func BenchmarkParseVerify(b *testing.B) {
	key := testKey(b, "k", 1)
	keys := &KeySet{Keys: []PublicKey{key.Public()}}
	link, err := Build(benchRequest(), key)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for b.Loop() {
		l, err := Parse(link, now)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Verify(keys); err != nil {
			b.Fatal(err)
		}
	}
}
