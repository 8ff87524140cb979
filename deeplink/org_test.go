package deeplink

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckOrg(t *testing.T) {
	for _, tc := range []struct {
		org string
		ok  bool
	}{
		{"Example Bank", true},
		{"भारतीय स्टेट बैंक", true},
		{strings.Repeat("B", MaxOrgLength), true},
		{strings.Repeat("B", MaxOrgLength+1), false},
		{"   ", false},
		{"Bank\u202eknaB", false}, // right-to-left override
		{"Bank\u200bA", false},    // zero-width space
		{"Bank\nA", false},
		{"Bank\u00a0A", false}, // no-break space: looks like a space, is not one
		{"\xff", false},
	} {
		err := CheckOrg(tc.org)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrOrg)) {
			t.Errorf("CheckOrg(%q) = %v", tc.org, err)
		}
	}
}

// TestOrgSigned: org round-trips and is covered by sig; changing it breaks
// the signature.
func TestOrgSigned(t *testing.T) {
	key, err := NewSigningKey("tenant-a-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req := &Request{Action: ActionSign, RequestID: "req-org-0001", Hashes: [][]byte{make([]byte, 32)},
		CallbackURL: "https://sign.example.in/v1/callback", Origin: "https://sign.example.in", Expires: now.Add(5 * time.Minute), Org: "Example Bank"}
	link, err := Build(req, key)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(link, now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Org != "Example Bank" {
		t.Fatalf("org %q", l.Org)
	}
	ks := &KeySet{Keys: []PublicKey{key.Public()}}
	if err := l.Verify(ks); err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(link, "org=Example%20Bank", "org=Other%20Bank", 1)
	if forged == link {
		t.Fatalf("org not found in %s", link)
	}
	fl, err := Parse(forged, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Verify(ks); !errors.Is(err, ErrSignature) {
		t.Errorf("a changed org still verifies: %v", err)
	}
	req.Org = "Bank\u202e"
	if _, err := Build(req, key); !errors.Is(err, ErrOrg) {
		t.Errorf("Build with a bidi org: %v", err)
	}
}
