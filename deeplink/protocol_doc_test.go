package deeplink

import (
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProtocolDocExample: the worked example of docs/protocol.md §1.3 is a
// link this package parses and verifies, with the canonical form the page
// shows, under the JWKS the page shows.
func TestProtocolDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "A worked example.")
	if i < 0 {
		t.Fatal("docs/protocol.md §1.3 has no worked example")
	}
	blocks := regexp.MustCompile("(?s)```(?:json)?\n(.*?)\n```").FindAllStringSubmatch(s[i:], 3)
	if len(blocks) < 3 {
		t.Fatal("the worked example needs the link, its canonical form and the JWKS")
	}
	link, canon, jwks := blocks[0][1], blocks[1][1], blocks[2][1]
	l, err := Parse(link, time.Unix(1781519400-600, 0))
	if err != nil {
		t.Fatalf("the page's link: %v", err)
	}
	ks, err := ParseKeySet([]byte(jwks))
	if err != nil {
		t.Fatalf("the page's JWKS: %v", err)
	}
	if err := l.Verify(ks); err != nil {
		t.Errorf("the page's link does not verify under its JWKS: %v", err)
	}
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	k, err := SigningKeyFromSeed("k1", seed)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := ks.Lookup("k1"); !ok || !pub.Equal(k.Public().Key) {
		t.Error("the page's JWKS is not RFC 8032's first key")
	}
	ps, err := splitQuery(link[strings.IndexByte(link, '?')+1:])
	if err != nil {
		t.Fatal(err)
	}
	if got := canonical(ActionSign, ps); got != canon {
		t.Errorf("canonical form\n got %s\npage %s", got, canon)
	}
	if !strings.Contains(canon, "&org=Example%20Bank&origin=") {
		t.Error("the example no longer shows org, signed, before origin")
	}
}
