package desktop

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/signer"
)

func TestCheckPolicy(t *testing.T) {
	p := newTestPortal(t)
	ks := newFakeKeystore(t)
	key := linkKey(t)
	other, _ := deeplink.NewSigningKey(key.KID, rand.Reader)
	signed, _ := signLink(t, p.URL, key)
	unsigned, _ := signLink(t, p.URL, nil)
	forged, _ := signLink(t, p.URL, other)
	ctx := context.Background()
	no := false
	for _, tc := range []struct {
		name       string
		link       string
		policy     Policy
		trusted    bool
		wantErr    error
		wantCode   callback.Code
		verified   bool
		reportable bool
	}{
		{name: "signed, trusted key", link: signed, policy: Policy{AllowedOrigins: []string{p.URL}}, trusted: true, verified: true},
		{name: "signed, key fetched from the origin", link: signed, policy: Policy{AllowedOrigins: []string{p.URL}}, verified: true},
		{name: "signed, fetching off", link: signed, policy: Policy{AllowedOrigins: []string{p.URL}, FetchKeys: &no},
			wantErr: deeplink.ErrUnknownKey, wantCode: callback.CodeLinkInvalid, reportable: true},
		{name: "forged signature", link: forged, policy: Policy{AllowedOrigins: []string{p.URL}}, trusted: true,
			wantErr: deeplink.ErrSignature, wantCode: callback.CodeLinkInvalid, reportable: true},
		{name: "forged signature, fetched keys", link: forged, policy: Policy{AllowedOrigins: []string{p.URL}},
			wantErr: deeplink.ErrSignature, wantCode: callback.CodeLinkInvalid, reportable: true},
		{name: "unsigned from an origin opted in", link: unsigned, policy: Policy{AllowedOrigins: []string{p.URL}, UnsignedLinkOrigins: []string{p.URL}}},
		{name: "unsigned from an allowed origin, no opt-in", link: unsigned, policy: Policy{AllowedOrigins: []string{p.URL}},
			wantErr: ErrUnsignedLink, wantCode: callback.CodeLinkInvalid, reportable: true},
		{name: "unsigned, signed links required", link: unsigned, policy: Policy{AllowedOrigins: []string{p.URL}, UnsignedLinkOrigins: []string{p.URL}, RequireSignedLinks: true},
			wantErr: ErrUnsignedLink, wantCode: callback.CodeLinkInvalid, reportable: true},
		{name: "origin not allowed", link: signed, policy: Policy{AllowedOrigins: []string{"https://bank.example"}}, trusted: true,
			wantErr: ErrOriginNotAllowed, wantCode: callback.CodeDomainNotAllowed},
		{name: "empty allowlist", link: signed, trusted: true, wantErr: ErrOriginNotAllowed, wantCode: callback.CodeDomainNotAllowed},
		{name: "garbage", link: "securesign://sign?requestId=x", policy: Policy{AllowedOrigins: []string{p.URL}},
			wantErr: deeplink.ErrMalformed, wantCode: callback.CodeLinkInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := &App{Policy: tc.policy, Keystore: ks}
			if tc.trusted {
				app.TrustedKeys = &deeplink.KeySet{Keys: []deeplink.PublicKey{key.Public()}}
			}
			chk, err := app.Check(ctx, tc.link)
			if tc.wantErr == nil {
				if err != nil || chk.Verified != tc.verified {
					t.Fatalf("Check: %v, verified %v", err, chk != nil && chk.Verified)
				}
				return
			}
			if tc.name == "garbage" {
				if err == nil || Code(err) != tc.wantCode {
					t.Fatalf("Check: %v (%s)", err, Code(err))
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || Code(err) != tc.wantCode {
				t.Fatalf("Check: %v (%s), want %v (%s)", err, Code(err), tc.wantErr, tc.wantCode)
			}
			if (chk != nil) != tc.reportable {
				t.Errorf("reportable = %v, want %v", chk != nil, tc.reportable)
			}
		})
	}
}

func TestExpiredLinkRefused(t *testing.T) {
	p := newTestPortal(t)
	link, _ := signLink(t, p.URL, linkKey(t))
	app := newTestApp(t, p, newFakeKeystore(t))
	app.Now = func() time.Time { return time.Now().Add(11 * time.Minute) }
	_, err := app.Check(context.Background(), link)
	if !errors.Is(err, deeplink.ErrExpired) || Code(err) != callback.CodeLinkExpired {
		t.Fatalf("expired link: %v (%s)", err, Code(err))
	}
}

func TestSignRegisterAndCertChecks(t *testing.T) {
	p := newTestPortal(t)
	ks := newFakeKeystore(t)
	app := newTestApp(t, p, ks)
	ctx := context.Background()
	certs, _ := ks.Certificates(ctx)

	ch := make([]byte, 32)
	rand.Read(ch)
	reg := &deeplink.Request{Action: deeplink.ActionRegister, RequestID: "register-0001", CallbackURL: p.URL + "/cb",
		Origin: p.URL, Expires: time.Now().Add(5 * time.Minute), Challenge: ch}
	link, err := deeplink.Build(reg, linkKey(t))
	if err != nil {
		t.Fatal(err)
	}
	chk, err := app.Check(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.Sign(ctx, chk, certs[0], []byte("1234"))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := res.Signatures()
	d := deeplink.RegisterDigest(p.URL, reg.RequestID, ch)
	if err := rsa.VerifyPKCS1v15(ks.leaf.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d, sigs[0]); err != nil {
		t.Errorf("register signature: %v", err)
	}

	// A link naming another certificate: SS_CERT_MISMATCH, nothing signed.
	sum := sha256.Sum256([]byte("x"))
	req := &deeplink.Request{Action: deeplink.ActionSign, RequestID: "sign-000001", Hashes: [][]byte{sum[:]}, HashAlgo: crypto.SHA256,
		CallbackURL: p.URL + "/cb", Origin: p.URL, Expires: time.Now().Add(5 * time.Minute), CertSerial: "0BADC0DE"}
	link, _ = deeplink.Build(req, linkKey(t))
	chk, err = app.Check(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Sign(ctx, chk, certs[0], []byte("1234")); !errors.Is(err, ErrCertMismatch) || Code(err) != callback.CodeCertMismatch {
		t.Errorf("mismatching certificate: %v (%s)", err, Code(err))
	}
	// An expired certificate: SS_CERT_EXPIRED.
	app.Now = func() time.Time { return ks.leaf.Cert.NotAfter.Add(time.Hour) }
	chk.Link.CertSerial = ""
	if _, err := app.Sign(ctx, chk, certs[0], []byte("1234")); !errors.Is(err, ErrCertExpired) || Code(err) != callback.CodeCertExpired {
		t.Errorf("expired certificate: %v (%s)", err, Code(err))
	}
	// Failures carry pinTriesLeft when the token tells.
	r := app.Failure(chk, &signer.PINError{TriesLeft: 2, Err: signer.ErrPINIncorrect})
	if r.Error != callback.CodePINInvalid || r.PINTriesLeft == nil || *r.PINTriesLeft != 2 {
		t.Errorf("PIN failure result %+v", r)
	}
}

func TestRefusedLinkGetsAPage(t *testing.T) {
	p := newTestPortal(t)
	app := newTestApp(t, p, newFakeKeystore(t))
	app.Policy.AllowedOrigins = nil
	var opened string
	app.OpenBrowser = func(_ context.Context, u string) error { opened = u; return nil }
	ui, err := app.NewUI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ui.Serve(ctx)
	link, _ := signLink(t, p.URL, linkKey(t))
	if _, err := ui.Open(ctx, link); !errors.Is(err, ErrOriginNotAllowed) {
		t.Fatalf("Open: %v", err)
	}
	_, body := get(t, opened, nil)
	if !strings.Contains(body, `data-state="refused"`) || !strings.Contains(body, "not on your list of trusted portals") || !strings.Contains(body, "Nothing was sent") {
		t.Errorf("refusal page:\n%s", body)
	}
	if p.count() != 0 {
		t.Error("a result was sent to a portal off the allowlist")
	}
	// A refused request does not block the next one.
	app.Policy.AllowedOrigins = []string{p.URL}
	if _, err := ui.Open(ctx, link); err != nil {
		t.Fatalf("next link: %v", err)
	}
}

func TestLegacyLinkShownUnverified(t *testing.T) {
	p := newTestPortal(t)
	app := newTestApp(t, p, newFakeKeystore(t))
	app.Policy.UnsignedLinkOrigins = []string{p.URL}
	var opened string
	app.OpenBrowser = func(_ context.Context, u string) error { opened = u; return nil }
	ui, _ := app.NewUI()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ui.Serve(ctx)
	sum := sha256.Sum256([]byte("legacy"))
	legacy, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: "legacy-0001", Hashes: [][]byte{sum[:]},
		HashAlgo: crypto.SHA256, CallbackURL: p.URL + "/cb"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ui.Open(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, opened, nil)
	if !strings.Contains(body, `data-verified="false"`) || !strings.Contains(body, "could not check who sent") || !strings.Contains(body, "older kind of link") {
		t.Errorf("legacy page:\n%s", body)
	}
}

func TestUnansweredRequestExpires(t *testing.T) {
	p := newTestPortal(t)
	app := newTestApp(t, p, newFakeKeystore(t))
	ui, _ := app.NewUI()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ui.Serve(ctx)
	sum := sha256.Sum256([]byte("soon"))
	link, err := deeplink.Build(&deeplink.Request{Action: deeplink.ActionSign, RequestID: "expires-0001", Hashes: [][]byte{sum[:]},
		HashAlgo: crypto.SHA256, CallbackURL: p.URL + "/cb", Origin: p.URL, Expires: time.Now().Add(2 * time.Second)}, linkKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ui.Open(ctx, link); err != nil {
		t.Fatal(err)
	}
	p.wantFailure(t, callback.CodeLinkExpired, "that the request expired")
	<-ui.Idle()
}

// TestOrgOnlyWhenVerified: PROTOCOL 1.1 §1: the page shows org, first,
// only for a link whose signature verifies; an unsigned link's org is not
// shown at all.
func TestOrgOnlyWhenVerified(t *testing.T) {
	p := newTestPortal(t)
	app := newTestApp(t, p, newFakeKeystore(t))
	// The unsigned case needs the origin's explicit opt-in to open at all.
	app.Policy.UnsignedLinkOrigins = []string{p.URL}
	var opened string
	app.OpenBrowser = func(_ context.Context, u string) error { opened = u; return nil }
	ui, _ := app.NewUI()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ui.Serve(ctx)
	for i, tc := range []struct {
		key  bool
		want bool
	}{{true, true}, {false, false}} {
		sum := sha256.Sum256([]byte("org"))
		req := &deeplink.Request{Action: deeplink.ActionSign, RequestID: fmt.Sprintf("org-req-000%d", i), Hashes: [][]byte{sum[:]},
			HashAlgo: crypto.SHA256, CallbackURL: p.URL + "/cb", Origin: p.URL, Expires: time.Now().Add(5 * time.Minute), Org: "Example Bank"}
		key := linkKey(t)
		if !tc.key {
			key = nil
		}
		link, err := deeplink.Build(req, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ui.Open(ctx, link); err != nil {
			t.Fatal(err)
		}
		_, body := get(t, opened, nil)
		shown := strings.Contains(body, `<strong id="org">Example Bank</strong> asks you`) && strings.Contains(body, `through the website <strong class="mono" id="origin">`+p.URL)
		if shown != tc.want || (!tc.want && strings.Contains(body, "Example Bank")) {
			t.Errorf("signed=%t: org shown=%t:\n%s", tc.key, shown, body)
		}
		// Cancel it, so the next request can open.
		csrf := between(body, `name="csrf" value="`, `"`)
		post(t, opened+"cancel", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "http://" + ui.Addr(), "Sec-Fetch-Site": "same-origin"})
	}
}

func between(s, a, b string) string {
	_, rest, _ := strings.Cut(s, a)
	v, _, _ := strings.Cut(rest, b)
	return v
}
