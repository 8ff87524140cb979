package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/securesign/securesign/internal/softhsmtest"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// TestCAOnToken: the issuing CA's key lives on a PKCS#11 token (SoftHSM);
// certificates the gateway issues chain to the configured root.
func TestCAOnToken(t *testing.T) {
	tok := softhsmtest.New(t)
	h := testpki.NewHierarchy(t)
	tok.Import(t, "issuing-ca", h.Intermediate.Key, h.Intermediate.Cert)
	chainFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(chainFile, testpki.PEM(h.Root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newTestGW(t, nil, func(c *Config) {
		c.CAPKCS11 = &PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "issuing-ca", PIN: []byte(tok.PIN)}
		c.CAChainFile = chainFile
	})
	t.Cleanup(func() { g.srv.Close() })
	k := testpki.Key(t, testpki.P256, 40)
	issued := g.issueCSR(g.key, "token-ca", k)
	blk, _ := pem.Decode([]byte(issued["certificatePem"].(string)))
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root.Cert)
	inter := x509.NewCertPool()
	inter.AddCert(h.Intermediate.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate issued with the token key does not chain: %v", err)
	}
	// And the token flow works with it end to end.
	app := appSigner(t, k, issued)
	out := g.must(201, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(digest("token ca"))})
	if code, ans := g.postResult(signLink(t, g, out["deepLink"].(string), app)); code != 200 {
		t.Fatalf("callback = %d %v", code, ans)
	}
	// A wrong PIN is a clear startup error.
	_, err = NewWithStore(t.Context(), Config{Dev: true, DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:1",
		CAPKCS11: &PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "issuing-ca", PIN: []byte("0000")}, CAChainFile: chainFile}, newSQLiteStore(t))
	if err == nil {
		t.Fatal("wrong CA PIN accepted")
	}
}

// userKeysOn configures the gateway's user-key token and a fixed master
// key, so that gateways started one after the other on one store read each
// other's software keys.
func userKeysOn(tok *softhsmtest.Token, pin string) func(*Config) {
	return func(c *Config) {
		c.MasterKey = bytes.Repeat([]byte{7}, 32)
		if tok != nil {
			c.UserKeysPKCS11 = &PKCS11Key{Module: tok.Module, TokenLabel: tok.Label, PIN: []byte(pin)}
		}
	}
}

// issueServerKey onboards a user and has the gateway make a key of algo.
func (g *testGW) issueServerKey(ext, algo string) (userID, certID string, cert *x509.Certificate) {
	g.t.Helper()
	uid := g.newUser(g.key, ext)
	oid, code := g.otp(g.key, uid, "issue")
	issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": algo})
	if issued["keyLocation"] != "server" {
		g.t.Fatalf("issued %v", issued)
	}
	blk, _ := pem.Decode([]byte(issued["certificatePem"].(string)))
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		g.t.Fatal(err)
	}
	return uid, issued["certificateId"].(string), c
}

// cscSign authorizes digests with a fresh OTP and signs them through CSC.
func (g *testGW) cscSign(uid, cid, signAlgo string, digests ...[]byte) [][]byte {
	g.t.Helper()
	hashes := make([]string, len(digests))
	for i, d := range digests {
		hashes[i] = b64(d)
	}
	oid, code := g.signOTPHashes(g.key, uid, cid, digests...)
	auth := g.must(200, "POST", "/csc/v2/credentials/authorize", g.key, map[string]any{"credentialID": cid, "numSignatures": len(hashes), "hashes": hashes,
		"authData": []map[string]string{{"id": "otpId", "value": oid}, {"id": "otp", "value": code}}})
	out := g.must(200, "POST", "/csc/v2/signatures/signHash", g.key, map[string]any{"credentialID": cid, "SAD": auth["SAD"], "hashes": hashes, "signAlgo": signAlgo})
	list, _ := out["signatures"].([]any)
	if len(list) != len(digests) {
		g.t.Fatalf("signHash = %v", out)
	}
	sigs := make([][]byte, len(list))
	for i, v := range list {
		var err error
		if sigs[i], err = base64.StdEncoding.DecodeString(v.(string)); err != nil {
			g.t.Fatal(err)
		}
	}
	return sigs
}

// opensslVerify checks an RSA PKCS#1 v1.5 SHA-256 signature over digest
// with the certificate's key: openssl pkeyutl -verify.
func opensslVerify(t *testing.T, cert *x509.Certificate, digest, sig []byte) {
	t.Helper()
	tool := testenv.LookPath(t, "openssl", "openssl")
	dir := t.TempDir()
	files := map[string][]byte{"cert.pem": testpki.PEM(cert), "digest.bin": digest, "sig.bin": sig}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(tool, "pkeyutl", "-verify", "-certin", "-inkey", filepath.Join(dir, "cert.pem"), "-in", filepath.Join(dir, "digest.bin"),
		"-sigfile", filepath.Join(dir, "sig.bin"), "-pkeyopt", "digest:sha256").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl -verify: %v\n%s", err, out)
	}
}

// TestUserKeysOnToken: with a user-key token configured, keys issued
// without a CSR are generated on the token (sensitive, not extractable)
// and CSC, sign/hash and server-side PDF signing use them; software keys
// made before keep working next to them; a token that is missing, refuses
// the PIN or lacks the key gives a clear error with the protocol's code.
func TestUserKeysOnToken(t *testing.T) {
	eachStore(t, testUserKeysOnToken)
}

func testUserKeysOnToken(t *testing.T, st Store) {
	tok := softhsmtest.New(t)
	ctx := context.Background()

	// A software key from before the token was configured.
	g0 := newTestGW(t, st, userKeysOn(nil, ""))
	softUID, softCID, softCert := g0.issueServerKey("cust-soft", "ECDSA-P256")
	g0.srv.Close()
	// Later gateways on the store: the dev tenant's key was printed once.
	reopen := func(mod func(*Config)) *testGW {
		g := newTestGW(t, st, mod)
		g.key = g0.key
		return g
	}

	g := reopen(userKeysOn(tok, tok.PIN))
	uid, cid, cert := g.issueServerKey("cust-hsm", "RSA-2048")
	rec, err := st.Certificate(ctx, DevTenantID, cid)
	if err != nil {
		t.Fatal(err)
	}
	keyID, ok := strings.CutPrefix(string(rec.KeyBlob), pkcs11KeyPrefix)
	if rec.KeyKind != keyKindPKCS11 || !ok {
		t.Fatalf("stored key: kind %q, id %q", rec.KeyKind, rec.KeyBlob)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
		t.Fatalf("certified key %T", cert.PublicKey)
	}
	// Key pair and certificate on the token under one CKA_ID.
	want := []string{"cert:securesign-" + keyID + ":" + keyID, "privkey:securesign-" + keyID + ":" + keyID, "pubkey:securesign-" + keyID + ":" + keyID}
	var got []string
	for _, o := range tok.Objects(t) {
		if strings.HasSuffix(o, ":"+keyID) {
			got = append(got, o)
		}
	}
	if diff := cmp.Diff(want, sortedCopy(got)); diff != "" {
		t.Errorf("objects on the token (-want +got):\n%s", diff)
	}
	checkNonExtractable(t, tok, keyID)

	// CSC: list, info, authorize, signHash (PKCS#1 v1.5 and PSS); Go and
	// openssl verify.
	list := g.must(200, "POST", "/csc/v2/credentials/list", g.key, map[string]any{})
	if diff := cmp.Diff(sortedAny([]any{softCID, cid}), sortedAny(list["credentialIDs"].([]any))); diff != "" {
		t.Errorf("credentials/list (-want +got):\n%s", diff)
	}
	info := g.must(200, "POST", "/csc/v2/credentials/info", g.key, map[string]any{"credentialID": cid, "certInfo": true})
	if k := info["key"].(map[string]any); k["status"] != "enabled" || k["len"] != float64(2048) {
		t.Errorf("credentials/info key = %v", k)
	}
	d1, d2 := digest("hsm one"), digest("hsm two")
	sigs := g.cscSign(uid, cid, "1.2.840.113549.1.1.11", d1, d2)
	for i, d := range [][]byte{d1, d2} {
		if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d, sigs[i]); err != nil {
			t.Errorf("signature %d: %v", i, err)
		}
		opensslVerify(t, cert, d, sigs[i])
	}
	pss := g.cscSign(uid, cid, "1.2.840.113549.1.1.10", d1)
	if err := signer.VerifyDigest(cert.PublicKey, signer.RSAPSS, crypto.SHA256, d1, pss[0]); err != nil {
		t.Errorf("PSS signature: %v", err)
	}
	// signAlgoParams on the token: CKM_RSA_PKCS_PSS with salt 222.
	soid, scode := g.signOTPHashes(g.key, uid, cid, d2)
	pauth := g.must(200, "POST", "/csc/v2/credentials/authorize", g.key, map[string]any{"credentialID": cid, "numSignatures": 1, "hashes": b64s(d2),
		"authData": []map[string]string{{"id": "otpId", "value": soid}, {"id": "OTP", "value": scode}}})
	psig := g.must(200, "POST", "/csc/v2/signatures/signHash", g.key, map[string]any{"credentialID": cid, "SAD": pauth["SAD"], "hashes": b64s(d2),
		"signAlgo": oidPSS, "signAlgoParams": pssParamsB64(t, oidSHA256, oidSHA256, 222)})
	opensslVerifyDigest(t, cert, d2, sigsOf(t, psig, 1)[0], "digest:sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:222", "rsa_mgf1_md:sha256")
	// Concurrent signatures on the one open key (several sessions).
	key, err := g.srv.userKeys.Signer(ctx, string(rec.KeyBlob))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := newTokenCredential(key, cert, g.srv.ca.ChainCerts())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*5)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				d := digest(fmt.Sprint("concurrent", w, i))
				sig, err := signDigest(ctx, tc, signer.RSAPKCS1v15, crypto.SHA256, d)
				if err == nil {
					err = rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d, sig)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent signature: %v", err)
	}
	if _, err := signDigest(ctx, tc, signer.ECDSA, crypto.SHA256, d1); !errors.Is(err, signer.ErrUnsupportedAlgorithm) {
		t.Errorf("ECDSA with the RSA key = %v", err)
	}
	if _, err := newTokenCredential(key, softCert, nil); !errors.Is(err, signer.ErrKeyNotFound) {
		t.Errorf("token key with another certificate = %v", err)
	}
	// The software credential still signs, with the same gateway.
	ssig := g.cscSign(softUID, softCID, "1.2.840.10045.4.3.2", d1)
	if err := signer.VerifyDigest(softCert.PublicKey, signer.ECDSA, crypto.SHA256, d1, ssig[0]); err != nil {
		t.Errorf("software key signature: %v", err)
	}
	// sign/hash and server-side PDF signing with the token key.
	hoid, hcode := g.signOTPHashes(g.key, uid, cid, d2)
	hs := g.must(200, "POST", "/v1/sign/hash", g.key, map[string]any{"hashBase64": b64(d2), "certificateId": cid, "otpId": hoid, "otp": hcode})
	if hs["signAlgo"] != string(signer.RSAPKCS1v15) {
		t.Errorf("sign/hash = %v", hs)
	}
	poid, pcode := g.signOTPDocs(g.key, uid, cid, testpdf.Minimal("hsm"))
	out := g.must(200, "POST", "/v1/sign/pdf", g.key, map[string]any{"pdfBase64": b64(testpdf.Minimal("hsm")), "certificateId": cid, "otpId": poid, "otp": pcode})
	signed, _ := base64.StdEncoding.DecodeString(out["signedPdfBase64"].(string))
	rep, err := pdf.Verify(ctx, bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: g.srv.roots})
	if err != nil || !rep.Valid {
		t.Fatalf("PDF signed with the token key: %v %+v", err, rep)
	}
	g.srv.Close()

	// Start-up: a wrong PIN or an unknown token stops the gateway.
	for _, tc := range []struct {
		name, label, pin string
		want             error
	}{
		{"wrong PIN", tok.Label, "0000", signer.ErrPINIncorrect},
		{"unknown token", "no-such-token", tok.PIN, signer.ErrTokenNotFound},
	} {
		_, err := NewWithStore(ctx, Config{Dev: true, DataDir: t.TempDir(), PublicURL: "http://127.0.0.1:1", MasterKey: bytes.Repeat([]byte{7}, 32),
			UserKeysPKCS11: &PKCS11Key{Module: tok.Module, TokenLabel: tc.label, PIN: []byte(tc.pin)}}, st)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: start = %v, want %v", tc.name, err, tc.want)
		}
	}

	// Without the token configured, the token credential answers 503
	// SS_TOKEN_NOT_FOUND; the software one still signs.
	g2 := reopen(userKeysOn(nil, ""))
	g2.wantErr(http.StatusServiceUnavailable, "SS_TOKEN_NOT_FOUND", "POST", "/v1/sign/hash", g2.key, map[string]any{"hashBase64": b64(d1), "certificateId": cid, "otpId": "x", "otp": "1"})
	if st, e := g2.call("POST", "/csc/v2/signatures/signHash", g2.key, map[string]any{"credentialID": cid, "SAD": "sad_x", "hashes": []string{b64(d1)}, "signAlgo": "1.2.840.113549.1.1.11"}); st != http.StatusServiceUnavailable || e["error"] != "server_error" || !strings.Contains(fmt.Sprint(e["error_description"]), "token") {
		t.Errorf("CSC signHash without the token = %d %v", st, e)
	}
	g2.cscSign(softUID, softCID, "1.2.840.10045.4.3.2", d1)
	g2.srv.Close()

	// Another token (same label, without the key): 422 SS_CERT_NOT_FOUND.
	other := softhsmtest.New(t)
	g3 := reopen(userKeysOn(other, other.PIN))
	g3.wantErr(http.StatusUnprocessableEntity, "SS_CERT_NOT_FOUND", "POST", "/v1/sign/hash", g3.key, map[string]any{"hashBase64": b64(d1), "certificateId": cid, "otpId": "x", "otp": "1"})
	g3.srv.Close()
}

// checkNonExtractable asks pkcs11-tool (another process: what the HSM
// shows anyone) about the private key with CKA_ID id.
func checkNonExtractable(t *testing.T, tok *softhsmtest.Token, id string) {
	t.Helper()
	tool := testenv.LookPath(t, "pkcs11-tool", "opensc")
	out, err := exec.Command(tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN,
		"--list-objects", "--type", "privkey", "--id", id).CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	var access string
	for _, l := range strings.Split(string(out), "\n") {
		if a, ok := strings.CutPrefix(strings.TrimSpace(l), "Access:"); ok {
			access = strings.TrimSpace(a)
		}
	}
	flags := map[string]bool{}
	for _, f := range strings.Split(access, ",") {
		flags[strings.TrimSpace(f)] = true
	}
	if !flags["sensitive"] || flags["extractable"] || !flags["never extractable"] {
		t.Errorf("private key access flags %q, want sensitive and never extractable, not extractable\n%s", access, out)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	slices.Sort(out)
	return out
}

func sortedAny(s []any) []any {
	out := append([]any(nil), s...)
	slices.SortFunc(out, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}

// TestKeyError maps token failures to answers with the protocol's codes.
func TestKeyError(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("pki: PKCS#11: %w", signer.ErrTokenNotFound), 503, "SS_TOKEN_NOT_FOUND"},
		{errNoUserKeyToken, 503, "SS_TOKEN_NOT_FOUND"},
		{&signer.PINError{TriesLeft: 0, Err: signer.ErrPINLocked}, 503, "SS_PIN_BLOCKED"},
		{&signer.PINError{TriesLeft: -1, Err: signer.ErrPINIncorrect}, 503, "SS_PIN_INVALID"},
		{fmt.Errorf("%w: no key with id 01: %w", pki.ErrNotFound, signer.ErrKeyNotFound), 422, "SS_CERT_NOT_FOUND"},
	} {
		ae := keyError(tc.err)
		if ae == nil || ae.Status != tc.status || ae.Code != tc.code || ae.Msg == "" {
			t.Errorf("keyError(%v) = %+v, want %d %s", tc.err, ae, tc.status, tc.code)
		}
	}
	for _, err := range []error{errors.New("other"), pki.ErrNotFound, signer.ErrUnsupportedAlgorithm} {
		if ae := keyError(err); ae != nil {
			t.Errorf("keyError(%v) = %+v, want nil", err, ae)
		}
	}
}
