package lg

import (
	"context"
	"crypto"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// TestAppAnswer: the app's answer, made from its template and presigned
// pool, is the result callback.NewSuccess makes, for presigned digests and
// others alike.
func TestAppAnswer(t *testing.T) {
	leaf := testpki.NewHierarchy(t).Issue(t, testpki.RSA2048, testpki.Options{})
	sg, err := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app, err := NewApp(ctx, &Identity{Signer: sg}, 2)
	if err != nil {
		t.Fatal(err)
	}
	other := digest(7)
	for _, hashes := range [][][]byte{{app.Digest(0)}, {app.Digest(1), other}, {other}} {
		link, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: "lg-test-0001", Hashes: hashes,
			HashAlgo: crypto.SHA256, CallbackURL: "http://127.0.0.1:1/v1/callback", Origin: "http://127.0.0.1:1",
			Expires: time.Now().Add(time.Minute)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		enc, rid, err := app.Answer(ctx, link)
		if err != nil || rid != "lg-test-0001" {
			t.Fatalf("Answer: %q %v", rid, err)
		}
		got, err := callback.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		var sigs [][]byte
		for _, h := range hashes {
			s, err := signer.SignDigest(ctx, sg, app.Alg, crypto.SHA256, h)
			if err != nil {
				t.Fatal(err)
			}
			sigs = append(sigs, s)
		}
		want, err := callback.NewSuccess(rid, app.Alg, sigs, leaf.Cert, leaf.Chain, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		want.V = callback.Version // Encode writes it
		want.SignedAt = got.SignedAt
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("answer (-NewSuccess +got):\n%s", diff)
		}
	}
}

func TestJSONString(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"deepLink":"securesign://sign?a=1&b=2","x":1}`, "securesign://sign?a=1&b=2"},
		{`{"deepLink":"a\u0026b"}`, "a&b"},
		{`{"deepLink" : "a"}`, "a"},
		{`{"x":{"deepLink":"inner"}}`, ""},
		{`{"deepLink":"a","deepLink":"b"}`, "b"},
		{`{"deepLink":7}`, ""},
		{`{"deepLink":"a"`, ""},
		{`not json "deepLink":"a"`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := jsonString([]byte(tt.body), "deepLink"); got != tt.want {
			t.Errorf("jsonString(%s) = %q, want %q", tt.body, got, tt.want)
		}
	}
}
