package deeplink_test

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/securesign/securesign/deeplink"
)

// A portal builds a signed link for the digest of a document.
func ExampleBuild() {
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	key, _ := deeplink.SigningKeyFromSeed("portal-2026-06", seed) // in real life: NewSigningKey, kept secret
	digest := sha256.Sum256([]byte("loan agreement"))
	link, err := deeplink.Build(&deeplink.Request{
		Action:      deeplink.ActionSign,
		RequestID:   "req_0123456789abcdef",
		Hashes:      [][]byte{digest[:]},
		HashAlgo:    crypto.SHA256,
		CallbackURL: "https://portal.example.in/securesign/callback",
		Origin:      "https://portal.example.in",
		Expires:     time.Unix(1782124800, 0), // now + 10 minutes, in real life
		Doc:         "Loan agreement 42",
	}, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(link)
	// Output:
	// securesign://sign?requestId=req_0123456789abcdef&hashBase64=uQEvB4ge6%2FefwWi%2BilgpeGEjI%2Bqb995k11nOmEqcmyA%3D&hashAlgo=SHA256&callbackUrl=https%3A%2F%2Fportal.example.in%2Fsecuresign%2Fcallback&origin=https%3A%2F%2Fportal.example.in&exp=1782124800&doc=Loan%20agreement%2042&kid=portal-2026-06&sig=KG6PonjE1ZZMyzrBgqy9bfMWNmhFQgKZmPdow-dthvwlom-ppV8yK0avbFf-ofQf8bKzVzy1rNX83Tf3im7ZAA
}

// A signing app parses a link, checks it, verifies its signature with the
// portal's published keys, and shows the user what to sign.
func ExampleParse() {
	link := "securesign://sign?requestId=req_0123456789abcdef&hashBase64=uQEvB4ge6%2FefwWi%2BilgpeGEjI%2Bqb995k11nOmEqcmyA%3D&hashAlgo=SHA256&callbackUrl=https%3A%2F%2Fportal.example.in%2Fsecuresign%2Fcallback&origin=https%3A%2F%2Fportal.example.in&exp=1782124800&doc=Loan%20agreement%2042&kid=portal-2026-06&sig=KG6PonjE1ZZMyzrBgqy9bfMWNmhFQgKZmPdow-dthvwlom-ppV8yK0avbFf-ofQf8bKzVzy1rNX83Tf3im7ZAA"
	now := time.Unix(1782124200, 0) // time.Now() in real life
	l, err := deeplink.Parse(link, now)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	// In real life: (&deeplink.Fetcher{}).Verify(ctx, l), which fetches
	// {origin}/.well-known/securesign-keys.json.
	keys, _ := deeplink.ParseKeySet([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"portal-2026-06","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	fmt.Println("signature:", l.Verify(keys) == nil)
	fmt.Printf("%s asks you to sign %q (%d digest, %v)\n", l.Origin, l.Doc, len(l.Hashes), l.HashAlgo)

	_, err = deeplink.Parse(link, now.Add(time.Hour))
	fmt.Println(err)
	// Output:
	// signature: true
	// https://portal.example.in asks you to sign "Loan agreement 42" (1 digest, SHA-256)
	// deeplink: link expired (exp): expired at 2026-06-22T10:40:00Z, now 2026-06-22T11:30:00Z
}
