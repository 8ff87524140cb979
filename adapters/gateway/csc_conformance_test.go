package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf"
)

// The CSC conformance suite: every method driven with requests written
// from the CSC API v2.0.0.2 specification (section 11 samples, field for
// field), the same calls with the CSC 1.0.4 names that deployed clients
// send, and the refusals the specification lists. Every signature is
// checked with openssl pkeyutl, the RSASSA-PSS salt length given as the
// request asked (rsa_pss_saltlen); every PAdES output with pdfsig and
// qpdf.

const (
	oidSHA256 = "2.16.840.1.101.3.4.2.1"
	oidSHA384 = "2.16.840.1.101.3.4.2.2"
	oidRSA    = "1.2.840.113549.1.1.1"
	oidRSA256 = "1.2.840.113549.1.1.11"
	oidPSS    = "1.2.840.113549.1.1.10"
	oidECDSA  = "1.2.840.10045.4.3.2"
)

// cscCall posts a CSC request and returns the status and answer.
func (g *testGW) cscCall(path string, body any) (int, map[string]any) {
	g.t.Helper()
	return g.call("POST", "/csc/v2/"+path, g.key, body)
}

// cscMust expects 200.
func (g *testGW) cscMust(path string, body any) map[string]any {
	g.t.Helper()
	st, out := g.cscCall(path, body)
	if st != 200 {
		g.t.Fatalf("%s = %d %v", path, st, out)
	}
	return out
}

// cscRefused expects a CSC error: status and error code.
func (g *testGW) cscRefused(status int, code, path string, body any) string {
	g.t.Helper()
	st, out := g.cscCall(path, body)
	desc, _ := out["error_description"].(string)
	if st != status || out["error"] != code || desc == "" {
		g.t.Fatalf("%s = %d %v, want %d %s with a description", path, st, out, status, code)
	}
	return desc
}

// sendOTP asks for a CSC code for cid and reads it from the outbox.
func (g *testGW) cscSendOTP(cid string) (code, summary string) {
	g.t.Helper()
	st, out := g.cscCall("credentials/sendOTP", map[string]any{"credentialID": cid, "clientData": "12345678"})
	if st != 204 {
		g.t.Fatalf("credentials/sendOTP = %d %v", st, out)
	}
	f, err := os.ReadFile(filepath.Join(g.dir, "dev-otp-outbox.jsonl"))
	if err != nil {
		g.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(f)), "\n")
	var m map[string]string
	if err := jsonUnmarshal([]byte(lines[len(lines)-1]), &m); err != nil || m["purpose"] != "csc" {
		g.t.Fatalf("last outbox line %q: %v", lines[len(lines)-1], err)
	}
	return m["code"], m["summary"]
}

// pssParamsB64 is base64 DER RSASSA-PSS-params.
func pssParamsB64(t *testing.T, hashOID, mgfHashOID string, salt int) string {
	t.Helper()
	alg := func(oid string) pkix.AlgorithmIdentifier {
		var o asn1.ObjectIdentifier
		for _, p := range strings.Split(oid, ".") {
			n := 0
			for _, c := range p {
				n = n*10 + int(c-'0')
			}
			o = append(o, n)
		}
		return pkix.AlgorithmIdentifier{Algorithm: o, Parameters: asn1.RawValue{FullBytes: []byte{5, 0}}}
	}
	mgfHash, err := asn1.Marshal(alg(mgfHashOID))
	if err != nil {
		t.Fatal(err)
	}
	p := pssParams{Hash: alg(hashOID), MGF: pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: mgfHash}}, Salt: salt, Trailer: 1}
	der, err := asn1.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// opensslVerifyDigest checks sig over digest with openssl pkeyutl and the
// given options (digest:sha256, rsa_padding_mode:pss, rsa_pss_saltlen:N…).
func opensslVerifyDigest(t *testing.T, cert *x509.Certificate, dgst, sig []byte, pkeyopts ...string) {
	t.Helper()
	tool := testenv.LookPath(t, "openssl", "openssl")
	dir := t.TempDir()
	for name, b := range map[string][]byte{"cert.pem": testpki.PEM(cert), "digest.bin": dgst, "sig.bin": sig} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"pkeyutl", "-verify", "-certin", "-inkey", filepath.Join(dir, "cert.pem"), "-in", filepath.Join(dir, "digest.bin"), "-sigfile", filepath.Join(dir, "sig.bin")}
	for _, o := range pkeyopts {
		args = append(args, "-pkeyopt", o)
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl %v: %v\n%s", pkeyopts, err, out)
	}
}

func b64s(ds ...[]byte) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = b64(d)
	}
	return out
}

func sigsOf(t *testing.T, out map[string]any, n int) [][]byte {
	t.Helper()
	list, _ := out["signatures"].([]any)
	if len(list) != n {
		t.Fatalf("signatures = %v, want %d", out, n)
	}
	sigs := make([][]byte, n)
	for i, v := range list {
		var err error
		if sigs[i], err = base64.StdEncoding.DecodeString(v.(string)); err != nil {
			t.Fatal(err)
		}
	}
	return sigs
}

func TestCSCConformance(t *testing.T) {
	// Many codes for one user in a minute: above the default send limit.
	g := newTestGW(t, nil, func(c *Config) { c.OTPSendLimit = 1000 })
	uid, rsaCID, rsaCert := g.issueServerKey("csc-rsa", "RSA-2048")
	ecCID := g.serverKeyFor(uid)
	ecCert := func() *x509.Certificate {
		info := g.cscMust("credentials/info", map[string]any{"credentialID": ecCID})
		der, _ := base64.StdEncoding.DecodeString(info["cert"].(map[string]any)["certificates"].([]any)[0].(string))
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}()

	t.Run("info", func(t *testing.T) {
		for _, method := range []string{"GET", "POST"} {
			st, info := g.call(method, "/csc/v2/info", "", map[string]any{"lang": "en-US"})
			if method == "GET" {
				st, info = g.call(method, "/csc/v2/info", "", nil)
			}
			if st != 200 || info["specs"] != "2.0.0.2" {
				t.Fatalf("%s info = %d %v", method, st, info)
			}
			algos := info["signAlgorithms"].(map[string]any)["algos"].([]any)
			for _, want := range []string{oidRSA, oidRSA256, oidPSS, oidECDSA} {
				if !slices.Contains(algos, any(want)) {
					t.Errorf("signAlgorithms.algos lacks %s", want)
				}
			}
			if f := info["signature_formats"].(map[string]any)["formats"].([]any); !slices.Contains(f, any("P")) {
				t.Errorf("signature_formats = %v", f)
			}
			if l := info["conformance_levels"].([]any); !slices.Contains(l, any("Ades-B-LT")) {
				t.Errorf("conformance_levels = %v", l)
			}
			// Every advertised method answers (not 404).
			for _, m := range info["methods"].([]any) {
				if m == "info" {
					continue
				}
				st, out := g.cscCall(m.(string), map[string]any{})
				if m == "oauth2/authorize" {
					st, out = g.call("GET", "/csc/v2/oauth2/authorize", "", nil)
				}
				if st == 404 || st == 405 {
					t.Errorf("advertised method %s = %d %v", m, st, out)
				}
			}
		}
	})

	t.Run("credentials", func(t *testing.T) {
		// CSC v2 11.4 sample request.
		list := g.cscMust("credentials/list", map[string]any{"credentialInfo": true, "certificates": "chain", "certInfo": true, "authInfo": true})
		ids := list["credentialIDs"].([]any)
		if !slices.Contains(ids, any(rsaCID)) || !slices.Contains(ids, any(ecCID)) {
			t.Fatalf("credentialIDs = %v", ids)
		}
		for _, ci := range list["credentialInfos"].([]any) {
			info := ci.(map[string]any)
			auth := info["auth"].(map[string]any)
			obj := auth["objects"].([]any)[0].(map[string]any)
			if auth["mode"] != "explicit" || obj["type"] != "Password" || obj["id"] != "OTP" || info["SCAL"] != "2" || info["multisign"] == nil {
				t.Errorf("credential info auth = %v", info)
			}
			key := info["key"].(map[string]any)
			if info["credentialID"] == ecCID && key["curve"] != "1.2.840.10045.3.1.7" {
				t.Errorf("EC key without curve: %v", key)
			}
		}
		// CSC v2 11.5 sample request.
		info := g.cscMust("credentials/info", map[string]any{"credentialID": rsaCID, "certificates": "chain", "certInfo": true, "authInfo": true})
		if c := info["cert"].(map[string]any); c["serialNumber"] == nil || len(c["certificates"].([]any)) < 2 || info["key"].(map[string]any)["len"] != float64(2048) {
			t.Errorf("credentials/info = %v", info)
		}
		g.cscRefused(400, "invalid_request", "credentials/info", map[string]any{"credentialID": "crt_nope"})
		g.cscRefused(400, "invalid_request", "credentials/info", map[string]any{"credentialID": rsaCID, "certificates": "all"})
		st, e := g.call("POST", "/csc/v2/credentials/info", "", map[string]any{"credentialID": rsaCID})
		if st != 401 || e["error"] != "invalid_token" {
			t.Errorf("without a token = %d %v", st, e)
		}
	})

	d1, d2 := digest("csc one"), digest("csc two")
	t.Run("explicit v2", func(t *testing.T) {
		code, summary := g.cscSendOTP(rsaCID)
		if !strings.Contains(summary, "one signing request") || !strings.Contains(summary, "serial") {
			t.Errorf("sendOTP message %q", summary)
		}
		// CSC v2 11.6 sample request (OTP only: the credential has no PIN).
		auth := g.cscMust("credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 2, "hashes": b64s(d1, d2),
			"hashAlgorithmOID": oidSHA256, "authData": []map[string]string{{"id": "OTP", "value": code}}, "clientData": "12345678"})
		// CSC v2 11.10 sample request: PKCS#1 v1.5 with the hash named.
		out := g.cscMust("signatures/signHash", map[string]any{"credentialID": rsaCID, "SAD": auth["SAD"], "hashes": b64s(d1, d2),
			"hashAlgorithmOID": oidSHA256, "signAlgo": oidRSA, "clientData": "12345678"})
		for i, sig := range sigsOf(t, out, 2) {
			opensslVerifyDigest(t, rsaCert, [][]byte{d1, d2}[i], sig, "digest:sha256")
		}
		// The SAD signed once.
		g.cscRefused(400, "invalid_request", "signatures/signHash", map[string]any{"credentialID": rsaCID, "SAD": auth["SAD"], "hashes": b64s(d1, d2),
			"hashAlgorithmOID": oidSHA256, "signAlgo": oidRSA})
		// The code authorized once.
		g.cscRefused(400, "invalid_otp", "credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hashes": b64s(d1),
			"authData": []map[string]string{{"id": "OTP", "value": code}}})
	})

	t.Run("explicit 1.0.4 names", func(t *testing.T) {
		for _, field := range []string{"OTP", "PIN"} {
			code, _ := g.cscSendOTP(rsaCID)
			auth := g.cscMust("credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hash": b64s(d1), field: code})
			out := g.cscMust("signatures/signHash", map[string]any{"credentialID": rsaCID, "SAD": auth["SAD"], "hash": b64s(d1),
				"hashAlgo": oidSHA256, "signAlgo": oidRSA256})
			opensslVerifyDigest(t, rsaCert, d1, sigsOf(t, out, 1)[0], "digest:sha256")
		}
	})

	// signHash with the given signAlgo and params after a fresh
	// authorization of digest d for credential cid.
	sign := func(cid string, d []byte, hashOID string, req map[string]any) (int, map[string]any) {
		code, _ := g.cscSendOTP(cid)
		auth := g.cscMust("credentials/authorize", map[string]any{"credentialID": cid, "numSignatures": 1, "hashes": b64s(d), "hashAlgorithmOID": hashOID,
			"authData": []map[string]string{{"id": "OTP", "value": code}}})
		req["credentialID"], req["SAD"], req["hashes"] = cid, auth["SAD"], b64s(d)
		return g.cscCall("signatures/signHash", req)
	}
	t.Run("signAlgoParams honoured", func(t *testing.T) {
		d384 := sha512.Sum384([]byte("pss 384"))
		for _, tc := range []struct {
			name, hashOID string
			d             []byte
			salt          int
			opensslDigest string
		}{
			{"PSS SHA-256 salt 32", oidSHA256, d1, 32, "sha256"},
			{"PSS SHA-256 salt 222 (the most for 2048 bits)", oidSHA256, d1, 222, "sha256"},
			{"PSS SHA-256 salt 20", oidSHA256, d2, 20, "sha256"},
			{"PSS SHA-384 salt 48", oidSHA384, d384[:], 48, "sha384"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st, out := sign(rsaCID, tc.d, tc.hashOID, map[string]any{"hashAlgorithmOID": tc.hashOID, "signAlgo": oidPSS,
					"signAlgoParams": pssParamsB64(t, tc.hashOID, tc.hashOID, tc.salt)})
				if st != 200 {
					t.Fatalf("signHash = %d %v", st, out)
				}
				opensslVerifyDigest(t, rsaCert, tc.d, sigsOf(t, out, 1)[0], "digest:"+tc.opensslDigest, "rsa_padding_mode:pss",
					"rsa_pss_saltlen:"+strconv.Itoa(tc.salt), "rsa_mgf1_md:"+tc.opensslDigest)
			})
		}
		// Without params: the hash of hashAlgorithmOID, salt = hash length.
		st, out := sign(rsaCID, d1, oidSHA256, map[string]any{"hashAlgorithmOID": oidSHA256, "signAlgo": oidPSS})
		if st != 200 {
			t.Fatalf("PSS without params = %d %v", st, out)
		}
		opensslVerifyDigest(t, rsaCert, d1, sigsOf(t, out, 1)[0], "digest:sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:32")
		// ECDSA with SHA-256.
		st, out = sign(ecCID, d2, oidSHA256, map[string]any{"signAlgo": oidECDSA})
		if st != 200 {
			t.Fatalf("ECDSA = %d %v", st, out)
		}
		opensslVerifyDigest(t, ecCert, d2, sigsOf(t, out, 1)[0], "digest:sha256")
	})

	t.Run("signHash refusals leave the SAD usable", func(t *testing.T) {
		code, _ := g.cscSendOTP(rsaCID)
		auth := g.cscMust("credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hashes": b64s(d1),
			"hashAlgorithmOID": oidSHA256, "authData": []map[string]string{{"id": "OTP", "value": code}}})
		base := func(kv ...any) map[string]any {
			m := map[string]any{"credentialID": rsaCID, "SAD": auth["SAD"], "hashes": b64s(d1), "hashAlgorithmOID": oidSHA256, "signAlgo": oidPSS}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		for _, tc := range []struct {
			name string
			req  map[string]any
		}{
			{"params not base64", base("signAlgoParams", "%%%")},
			{"params not DER", base("signAlgoParams", b64([]byte("garbage")))},
			{"PSS hash contradicts hashAlgorithmOID", base("signAlgoParams", pssParamsB64(t, oidSHA384, oidSHA384, 48))},
			{"MGF1 with another hash", base("signAlgoParams", pssParamsB64(t, oidSHA256, oidSHA384, 32))},
			{"salt too long for the key", base("signAlgoParams", pssParamsB64(t, oidSHA256, oidSHA256, 223))},
			{"SHA-1 PSS defaults", base("signAlgoParams", b64([]byte{0x30, 0x00}))},
			{"params for PKCS#1 v1.5", base("signAlgo", oidRSA256, "signAlgoParams", pssParamsB64(t, oidSHA256, oidSHA256, 32))},
			{"hashAlgorithmOID contradicts signAlgo", base("signAlgo", oidRSA256, "hashAlgorithmOID", oidSHA384)},
			{"ECDSA with an RSA key", base("signAlgo", oidECDSA)},
			{"unknown signAlgo", base("signAlgo", "1.2.3.4")},
			{"unknown hashAlgorithmOID", base("hashAlgorithmOID", "1.3.14.3.2.26")},
			{"hash and hashes disagree", base("hash", b64s(d2))},
			{"digest of the wrong length", base("hashes", []string{b64(d1[:20])})},
			{"asynchronous mode", base("operationMode", "A")},
			{"unknown credential", base("credentialID", "crt_nope")},
		} {
			t.Run(tc.name, func(t *testing.T) { g.cscRefused(400, "invalid_request", "signatures/signHash", tc.req) })
		}
		out := g.cscMust("signatures/signHash", base())
		opensslVerifyDigest(t, rsaCert, d1, sigsOf(t, out, 1)[0], "digest:sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:32")
		// Hashes the SAD does not authorize: refused (and the SAD is gone).
		code, _ = g.cscSendOTP(rsaCID)
		auth = g.cscMust("credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hashes": b64s(d1),
			"authData": []map[string]string{{"id": "OTP", "value": code}}})
		g.cscRefused(400, "invalid_request", "signatures/signHash", base("hashes", b64s(d2)))
	})

	t.Run("authorize refusals", func(t *testing.T) {
		code, _ := g.cscSendOTP(rsaCID)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		req := func(kv ...any) map[string]any {
			m := map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hashes": b64s(d1), "authData": []map[string]string{{"id": "OTP", "value": code}}}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
		for _, tc := range []struct {
			name, code string
			req        map[string]any
		}{
			{"wrong OTP", "invalid_otp", req("authData", []map[string]string{{"id": "OTP", "value": wrong}})},
			{"no code", "invalid_request", req("authData", nil)},
			{"OTP and PIN differ", "invalid_request", req("OTP", wrong)},
			{"unknown auth object", "invalid_request", req("authData", []map[string]string{{"id": "FACE", "value": "x"}})},
			{"numSignatures above the hashes", "invalid_request", req("numSignatures", 2)},
			{"no hashes (SCAL 2)", "invalid_request", req("hashes", nil)},
			{"hash and hashes disagree", "invalid_request", req("hash", b64s(d2))},
			{"unknown credential", "invalid_request", req("credentialID", "crt_nope")},
		} {
			t.Run(tc.name, func(t *testing.T) { g.cscRefused(400, tc.code, "credentials/authorize", tc.req) })
		}
		// Only the wrong code counted; the right one still authorizes.
		g.cscMust("credentials/authorize", req())
		// A code sent for the RSA credential does not authorize the same
		// user's EC credential, and is spent by trying.
		code, _ = g.cscSendOTP(rsaCID)
		g.cscRefused(400, "invalid_otp", "credentials/authorize", req("credentialID", ecCID, "authData", []map[string]string{{"id": "OTP", "value": code}}))
		g.cscRefused(400, "invalid_otp", "credentials/authorize", req("authData", []map[string]string{{"id": "OTP", "value": code}}))
		// A code the tenant asked for with digests (POST /v1/users/…/otp)
		// authorizes exactly those.
		oid, bound := g.signOTPHashes(g.key, uid, rsaCID, d1)
		g.cscRefused(400, "invalid_otp", "credentials/authorize", req("hashes", b64s(d2), "authData", []map[string]string{{"id": "otpId", "value": oid}, {"id": "OTP", "value": bound}}))
		oid, bound = g.signOTPHashes(g.key, uid, rsaCID, d1)
		g.cscMust("credentials/authorize", req("authData", []map[string]string{{"id": "otpId", "value": oid}, {"id": "OTP", "value": bound}}))
	})

	t.Run("signDoc PAdES", func(t *testing.T) {
		pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
		qpdf := testenv.LookPath(t, "qpdf", "qpdf")
		doc, other := testpdf.Minimal("CSC signDoc"), testpdf.Minimal("another document")
		sum := sha256.Sum256(doc)
		code, _ := g.cscSendOTP(rsaCID)
		auth := g.cscMust("credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hashes": b64s(sum[:]),
			"hashAlgorithmOID": oidSHA256, "authData": []map[string]string{{"id": "OTP", "value": code}}})
		docReq := func(d []byte, kv ...any) map[string]any {
			entry := map[string]any{"document": b64(d), "signature_format": "P", "conformance_level": "Ades-B-T", "signAlgo": oidRSA256,
				"signed_envelope_property": "Revision"}
			for i := 0; i+1 < len(kv); i += 2 {
				entry[kv[i].(string)] = kv[i+1]
			}
			return map[string]any{"credentialID": rsaCID, "SAD": auth["SAD"], "documents": []any{entry}}
		}
		g.cscRefused(400, "invalid_request", "signatures/signDoc", docReq(doc, "signature_format", "C"))
		g.cscRefused(400, "invalid_request", "signatures/signDoc", docReq(doc, "conformance_level", "Ades-X"))
		g.cscRefused(400, "invalid_request", "signatures/signDoc", map[string]any{"credentialID": rsaCID, "SAD": auth["SAD"],
			"documentDigests": []any{map[string]any{"hashes": b64s(sum[:]), "signature_format": "P", "signAlgo": oidRSA256}}})
		out := g.cscMust("signatures/signDoc", docReq(doc))
		signed, _ := base64.StdEncoding.DecodeString(out["DocumentWithSignature"].([]any)[0].(string))
		if !bytes.HasPrefix(signed, doc) {
			t.Error("signDoc did not append a revision to the document")
		}
		rep, err := pdf.Verify(context.Background(), bytes.NewReader(signed), int64(len(signed)), pdf.VerifyOptions{Roots: g.srv.roots})
		if err != nil || !rep.Valid || rep.Signatures[0].Level != "B-T" {
			t.Fatalf("signDoc output: %v %+v", err, rep)
		}
		path := filepath.Join(t.TempDir(), "signed.pdf")
		os.WriteFile(path, signed, 0o600)
		if res, err := exec.Command(pdfsig, path).CombinedOutput(); !strings.Contains(string(res), "Signature is Valid") {
			t.Errorf("pdfsig: %v\n%s", err, res)
		}
		if res, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil {
			t.Errorf("qpdf --check: %v\n%s", err, res)
		}
		// Another document than the one authorized.
		code, _ = g.cscSendOTP(rsaCID)
		auth = g.cscMust("credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hashes": b64s(sum[:]),
			"authData": []map[string]string{{"id": "OTP", "value": code}}})
		g.cscRefused(400, "invalid_request", "signatures/signDoc", docReq(other))
		// Not a PDF: refused for its content, twice, the SAD unspent by it.
		junk := []byte("%PDF-1.7 not really")
		jsum := sha256.Sum256(junk)
		code, _ = g.cscSendOTP(rsaCID)
		auth = g.cscMust("credentials/authorize", map[string]any{"credentialID": rsaCID, "numSignatures": 1, "hashes": b64s(jsum[:]),
			"authData": []map[string]string{{"id": "OTP", "value": code}}})
		for range 2 {
			if desc := g.cscRefused(400, "invalid_request", "signatures/signDoc", docReq(junk)); strings.Contains(desc, "SAD") {
				t.Errorf("a bad PDF spent the SAD: %s", desc)
			}
		}
	})
}
