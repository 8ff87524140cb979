package callback

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

func TestVerifyAccepted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		make func(t *testing.T) (*Pending, *Result)
	}{
		{"RSA PKCS#1 v1.5", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 1, crypto.SHA256)
			return p, f.success(t, p, f.rsa, signer.RSAPKCS1v15)
		}},
		{"RSA-PSS SHA-512", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 1, crypto.SHA512)
			return p, f.success(t, p, f.rsa, signer.RSAPSS)
		}},
		{"ECDSA P-256 DER SHA-384", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 1, crypto.SHA384)
			return p, f.success(t, p, f.p256, signer.ECDSA)
		}},
		{"ECDSA raw r||s", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 2, crypto.SHA256)
			r := f.success(t, p, f.p256, signer.ECDSA)
			for i, s := range r.SignaturesBase64 {
				der, _ := base64.StdEncoding.DecodeString(s)
				r.SignaturesBase64[i] = base64.StdEncoding.EncodeToString(rawECDSA(t, f.p256.Cert.PublicKey.(*ecdsa.PublicKey), der))
			}
			r.SignatureBase64 = r.SignaturesBase64[0]
			return p, r
		}},
		{"batch of 50", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 50, crypto.SHA256)
			return p, f.success(t, p, f.p256, signer.ECDSA)
		}},
		{"legacy fields only, registered certificate", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 1, crypto.SHA256)
			p.RegisteredCert = f.rsa.Cert
			f.store.reqs[p.RequestID].p.RegisteredCert = f.rsa.Cert
			full := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			return p, &Result{RequestID: p.RequestID, Success: true, SignatureBase64: full.SignatureBase64,
				SignedAt: full.SignedAt, Certificate: full.Certificate}
		}},
		{"chain from the Verifier, certSerial and certSha256 match", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 1, crypto.SHA256)
			e := f.store.reqs[p.RequestID].p
			e.CertSerial = f.p256.Cert.SerialNumber
			s := sha256.Sum256(f.p256.Cert.Raw)
			e.CertSHA256 = s[:]
			r := f.success(t, p, f.p256, signer.ECDSA)
			r.ChainBase64 = nil
			return p, r
		}},
		{"register", func(t *testing.T) (*Pending, *Result) {
			p := f.pendingRegister(t)
			return p, f.success(t, p, f.rsa, signer.RSAPKCS1v15)
		}},
		{"URL-safe unpadded encoding", func(t *testing.T) (*Pending, *Result) {
			p := f.pending(t, 1, crypto.SHA256)
			return p, f.success(t, p, f.p256, signer.ECDSA)
		}},
	}
	v := *f.v
	v.Intermediates = []*x509.Certificate{f.h.Intermediate.Cert}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, r := tc.make(t)
			s := enc(t, r)
			if strings.HasPrefix(tc.name, "URL-safe") {
				s = strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(s), "=")
			}
			o, err := v.Verify(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != Accepted || !o.Success() {
				t.Fatalf("outcome %s %s: %s", o.Kind, o.Code, o.Detail)
			}
			d, _ := digestsOf(p)
			if len(o.Completion.Signatures) != len(d) || o.Completion.Certificate == nil {
				t.Errorf("completion has %d signatures, cert %v", len(o.Completion.Signatures), o.Completion.Certificate != nil)
			}
			if len(o.Completion.Chain) != 1 || !o.Completion.Chain[0].Equal(f.h.Intermediate.Cert) {
				t.Errorf("completion chain: %d certificates", len(o.Completion.Chain))
			}
			for _, sig := range o.Completion.Signatures {
				if k, ok := o.Completion.Certificate.PublicKey.(*ecdsa.PublicKey); ok && len(sig) == 2*((k.Curve.Params().BitSize+7)/8) && sig[0] != 0x30 {
					t.Error("raw ECDSA signature not normalised to DER")
				}
			}
		})
	}
}

// TestVerifyRejects: one failing test for each check of docs/protocol.md §2.2.
func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	untrusted := foreignLeaf(t)
	expired := f.h.Issue(t, testpki.RSA2048, testpki.Options{NotBefore: time.Now().AddDate(-3, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)})
	notYet := f.h.Issue(t, testpki.RSA2048, testpki.Options{NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)})
	noKU := f.h.Issue(t, testpki.RSA2048, testpki.Options{KeyUsage: x509.KeyUsageKeyEncipherment})
	secondRSA := f.h.Issue(t, testpki.RSA2048, testpki.Options{Slot: 2})

	type tcase struct {
		name    string
		payload func(t *testing.T) string
		want    error
		code    Code
	}
	withPending := func(n int, edit func(p *Pending)) *Pending {
		p := f.pending(t, n, crypto.SHA256)
		if edit != nil {
			edit(f.store.reqs[p.RequestID].p)
		}
		return p
	}
	tests := []tcase{
		{"expired request", func(t *testing.T) string {
			p := withPending(1, func(p *Pending) { p.ExpiresAt = f.now.Add(-time.Second) })
			return enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15))
		}, ErrExpired, CodeLinkExpired},
		{"unknown requestId", func(t *testing.T) string {
			p := &Pending{RequestID: "never-issued-1", Hashes: [][]byte{sum(crypto.SHA256, "x")}, HashAlgo: crypto.SHA256}
			return enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15))
		}, ErrUnknownRequest, CodeInternal},
		{"wrong certificate (certSerial)", func(t *testing.T) string {
			p := withPending(1, func(p *Pending) { p.CertSerial = secondRSA.Cert.SerialNumber })
			return enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15))
		}, ErrCertMismatch, CodeCertMismatch},
		{"wrong certificate (certSha256)", func(t *testing.T) string {
			s := sha256.Sum256(secondRSA.Cert.Raw)
			p := withPending(1, func(p *Pending) { p.CertSHA256 = s[:] })
			return enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15))
		}, ErrCertMismatch, CodeCertMismatch},
		{"wrong certificate (registered)", func(t *testing.T) string {
			p := withPending(1, func(p *Pending) { p.RegisteredCert = secondRSA.Cert })
			return enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15))
		}, ErrCertMismatch, CodeCertMismatch},
		{"certificate expired", func(t *testing.T) string {
			p := withPending(1, nil)
			return enc(t, f.success(t, p, expired, signer.RSAPKCS1v15))
		}, ErrCertExpired, CodeCertExpired},
		{"certificate not yet valid", func(t *testing.T) string {
			p := withPending(1, nil)
			return enc(t, f.success(t, p, notYet, signer.RSAPKCS1v15))
		}, ErrCertExpired, CodeCertExpired},
		{"missing key usage", func(t *testing.T) string {
			p := withPending(1, nil)
			return enc(t, f.success(t, p, noKU, signer.RSAPKCS1v15))
		}, ErrKeyUsage, CodeCertMismatch},
		{"untrusted chain", func(t *testing.T) string {
			p := withPending(1, nil)
			return enc(t, f.success(t, p, untrusted, signer.RSAPKCS1v15))
		}, pki.ErrUntrusted, CodeCertUntrusted},
		{"missing intermediate", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			r.ChainBase64 = nil
			return enc(t, r)
		}, pki.ErrUntrusted, CodeCertUntrusted},
		{"signature over another digest", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			sig := sign(t, f.rsa, signer.RSAPKCS1v15, crypto.SHA256, [][]byte{sum(crypto.SHA256, "another document")})
			r.SignatureBase64 = base64.StdEncoding.EncodeToString(sig[0])
			r.SignaturesBase64 = []string{r.SignatureBase64}
			return enc(t, r)
		}, signer.ErrSignatureInvalid, CodeInternal},
		{"batch signatures swapped", func(t *testing.T) string {
			p := withPending(2, nil)
			r := f.success(t, p, f.p256, signer.ECDSA)
			r.SignaturesBase64[0], r.SignaturesBase64[1] = r.SignaturesBase64[1], r.SignaturesBase64[0]
			r.SignatureBase64 = r.SignaturesBase64[0]
			return enc(t, r)
		}, signer.ErrSignatureInvalid, CodeInternal},
		{"too few batch signatures", func(t *testing.T) string {
			p := withPending(3, nil)
			r := f.success(t, p, f.p256, signer.ECDSA)
			r.SignaturesBase64 = r.SignaturesBase64[:2]
			return enc(t, r)
		}, ErrSignatureCount, CodeInternal},
		{"too many batch signatures", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.p256, signer.ECDSA)
			r.SignaturesBase64 = append(r.SignaturesBase64, r.SignaturesBase64[0])
			return enc(t, r)
		}, ErrSignatureCount, CodeInternal},
		{"signatureBase64 differs from signaturesBase64[0]", func(t *testing.T) string {
			p := withPending(2, nil)
			r := f.success(t, p, f.p256, signer.ECDSA)
			r.SignatureBase64 = r.SignaturesBase64[1]
			return enc(t, r)
		}, ErrMalformed, CodeInternal},
		{"signAlgo RSA-PSS over a PKCS#1 signature", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			r.SignAlgo = string(signer.RSAPSS)
			return enc(t, r)
		}, signer.ErrSignatureInvalid, CodeInternal},
		{"signAlgo ECDSA with an RSA key", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			r.SignAlgo = string(signer.ECDSA)
			return enc(t, r)
		}, signer.ErrUnsupportedAlgorithm, CodeUnsupported},
		{"register answered with a document signature", func(t *testing.T) string {
			p := f.pendingRegister(t)
			sig := sign(t, f.rsa, signer.RSAPKCS1v15, crypto.SHA256, [][]byte{p.Challenge})
			r, _ := NewSuccess(p.RequestID, signer.RSAPKCS1v15, sig, f.rsa.Cert, f.rsa.Chain, f.now)
			return enc(t, r)
		}, signer.ErrSignatureInvalid, CodeInternal},
		{"no certificate", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			r.CertificateBase64 = ""
			return enc(t, r)
		}, ErrNoCertificate, CodeCertMismatch},
		{"garbage certificate", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			r.CertificateBase64 = base64.StdEncoding.EncodeToString([]byte("not DER"))
			return enc(t, r)
		}, ErrCertificate, CodeInternal},
		{"no signature", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			r.SignatureBase64, r.SignaturesBase64 = "", nil
			return enc(t, r)
		}, ErrSignatureCount, CodeInternal},
		{"51 signatures", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.p256, signer.ECDSA)
			for len(r.SignaturesBase64) < 51 {
				r.SignaturesBase64 = append(r.SignaturesBase64, r.SignaturesBase64[0])
			}
			return enc(t, r)
		}, ErrSignatureCount, CodeInternal},
		{"chain of 11 certificates", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			for len(r.ChainBase64) < 11 {
				r.ChainBase64 = append(r.ChainBase64, r.ChainBase64[0])
			}
			return enc(t, r)
		}, ErrCertificate, CodeInternal},
		{"NUL in requestId", func(t *testing.T) string {
			p := withPending(1, nil)
			r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
			r.RequestID += "\x00"
			return enc(t, r)
		}, ErrUnknownRequest, CodeInternal},
		{"oversized payload", func(t *testing.T) string {
			return strings.Repeat("A", MaxEncodedSize+4)
		}, ErrTooLarge, CodeInternal},
		{"garbage base64", func(t *testing.T) string { return "!!!not base64***" }, ErrMalformed, CodeInternal},
		{"garbage JSON", func(t *testing.T) string {
			return base64.StdEncoding.EncodeToString([]byte(`{"requestId":"x",`))
		}, ErrMalformed, CodeInternal},
		{"JSON array", func(t *testing.T) string {
			return base64.StdEncoding.EncodeToString([]byte(`[{"requestId":"x","success":true}]`))
		}, ErrMalformed, CodeInternal},
		{"duplicated success key", func(t *testing.T) string {
			p := withPending(1, nil)
			return base64.StdEncoding.EncodeToString([]byte(`{"requestId":"` + p.RequestID + `","success":false,"error":"SS_SIGN_CANCELLED","success":true}`))
		}, ErrMalformed, CodeInternal},
		{"future version", func(t *testing.T) string {
			p := withPending(1, nil)
			return base64.StdEncoding.EncodeToString([]byte(`{"requestId":"` + p.RequestID + `","success":false,"error":"SS_SIGN_CANCELLED","v":2}`))
		}, ErrUnsupportedVersion, CodeUnsupported},
		{"failure with a bogus code", func(t *testing.T) string {
			p := withPending(1, nil)
			return enc(t, &Result{RequestID: p.RequestID, Error: "<script>"})
		}, ErrMalformed, CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload := tc.payload(t)
			o, err := f.v.Verify(ctx, payload)
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != Rejected {
				t.Fatalf("outcome %s, want rejected (%s)", o.Kind, o.Detail)
			}
			if !errors.Is(o.Err, tc.want) {
				t.Errorf("error %v, want %v", o.Err, tc.want)
			}
			if o.Code != tc.code {
				t.Errorf("code %s, want %s", o.Code, tc.code)
			}
			// Nothing was recorded: the request is still pending.
			if o.Result != nil {
				if _, c, err := f.store.Pending(ctx, o.Result.RequestID); err == nil && c != nil {
					t.Error("a rejected result completed the request")
				}
			}
		})
	}
	// Without trust anchors nothing is accepted.
	v := *f.v
	v.Roots = nil
	p := f.pending(t, 1, crypto.SHA256)
	if o, _ := v.Verify(ctx, enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15))); o.Kind != Rejected || !errors.Is(o.Err, pki.ErrUntrusted) {
		t.Errorf("no roots: %s %v", o.Kind, o.Err)
	}
}

func TestReplayAndConflict(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	verify := func(s string) *Outcome {
		t.Helper()
		o, err := f.v.Verify(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Run("replay is idempotent", func(t *testing.T) {
		p := f.pending(t, 2, crypto.SHA256)
		r := f.success(t, p, f.rsa, signer.RSAPKCS1v15)
		first := verify(enc(t, r))
		if first.Kind != Accepted {
			t.Fatalf("first: %s %s", first.Kind, first.Detail)
		}
		again := verify(enc(t, r))
		urlSafe := verify(strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(enc(t, r)), "="))
		r.Message, r.SignedAt = "delivered again", f.now.Add(time.Minute).Format(time.RFC3339)
		reworded := verify(enc(t, r))
		f.now = f.now.Add(time.Hour) // after expiry, a replay is still answered the same
		late := verify(enc(t, r))
		f.now = f.now.Add(-time.Hour)
		for _, o := range []*Outcome{again, urlSafe, reworded, late} {
			if o.Kind != Duplicate || !o.Success() {
				t.Errorf("replay: %s %s", o.Kind, o.Detail)
			}
			if diff := cmp.Diff(first.Completion, o.Completion); diff != "" {
				t.Errorf("replay changed the completion:\n%s", diff)
			}
		}
	})
	t.Run("different result after success is a conflict", func(t *testing.T) {
		p := f.pending(t, 1, crypto.SHA256)
		if o := verify(enc(t, f.success(t, p, f.p256, signer.ECDSA))); o.Kind != Accepted {
			t.Fatalf("first: %s %s", o.Kind, o.Detail)
		}
		// A second valid signature (ECDSA is randomised) is another result.
		o := verify(enc(t, f.success(t, p, f.p256, signer.ECDSA)))
		if o.Kind != Conflict || !o.Success() {
			t.Errorf("second: %s %s", o.Kind, o.Detail)
		}
		o = verify(enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15)))
		if o.Kind != Conflict {
			t.Errorf("other signer: %s %s", o.Kind, o.Detail)
		}
	})
	t.Run("cancel after success is ignored", func(t *testing.T) {
		p := f.pending(t, 1, crypto.SHA256)
		ok := verify(enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15)))
		o := verify(enc(t, NewFailure(p.RequestID, ErrCancelled)))
		if o.Kind != Conflict || !o.Success() || !strings.Contains(o.Detail, "never overwrites") {
			t.Errorf("cancel: %s success=%t %s", o.Kind, o.Success(), o.Detail)
		}
		_, c, _ := f.store.Pending(ctx, p.RequestID)
		if diff := cmp.Diff(ok.Completion, c); diff != "" {
			t.Errorf("cancel changed the completion:\n%s", diff)
		}
	})
	t.Run("failure first, then success completes (1.1 §3)", func(t *testing.T) {
		p := f.pending(t, 1, crypto.SHA256)
		o := verify(enc(t, NewFailure(p.RequestID, &signer.PINError{TriesLeft: 2, Err: signer.ErrPINIncorrect})))
		if o.Kind != Accepted || o.Success() || o.Code != CodePINInvalid {
			t.Fatalf("failure: %s %s %s", o.Kind, o.Code, o.Detail)
		}
		if o := verify(enc(t, NewFailure(p.RequestID, signer.ErrPINIncorrect))); o.Kind != Duplicate {
			t.Errorf("same failure again: %s", o.Kind)
		}
		if o := verify(enc(t, NewFailure(p.RequestID, ErrCancelled))); o.Kind != Conflict || o.Success() {
			t.Errorf("another failure: %s %s", o.Kind, o.Detail)
		}
		o = verify(enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15)))
		if o.Kind != Accepted || !o.Success() {
			t.Errorf("success after failure: %s %s %s", o.Kind, o.Code, o.Detail)
		}
		if o := verify(enc(t, NewFailure(p.RequestID, signer.ErrPINIncorrect))); o.Kind != Conflict || !o.Success() {
			t.Errorf("the first failure again, after the success: %s", o.Kind)
		}
	})
}

// TestConcurrentDeliveries: different valid results for one request
// delivered at once: exactly one wins. Run with -race.
func TestConcurrentDeliveries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for round := range 5 {
		p := f.pending(t, 1, crypto.SHA256)
		const n = 8
		payloads := make([]string, n)
		for i := range payloads {
			if i%3 == 2 {
				payloads[i] = enc(t, NewFailure(p.RequestID, ErrCancelled))
			} else {
				payloads[i] = enc(t, f.success(t, p, f.p256, signer.ECDSA))
			}
		}
		outcomes := make([]*Outcome, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				o, err := f.v.Verify(ctx, payloads[i])
				if err != nil {
					t.Error(err)
				}
				outcomes[i] = o
			})
		}
		wg.Wait()
		// One success wins; a failure may be recorded before it but does
		// not complete (PROTOCOL 1.1 §3).
		won, failWon := 0, 0
		_, stored, _ := f.store.Pending(ctx, p.RequestID)
		if stored == nil || !stored.Success {
			t.Fatalf("round %d: stored %+v, want a success", round, stored)
		}
		for i, o := range outcomes {
			switch {
			case o.Kind == Accepted && o.Success():
				won++
			case o.Kind == Accepted:
				failWon++
			case o.Kind == Conflict, o.Kind == Duplicate:
			default:
				t.Errorf("round %d delivery %d: %s %s", round, i, o.Kind, o.Detail)
			}
			if o.Completion.Success && o.Completion.ResultHash != stored.ResultHash {
				t.Errorf("round %d delivery %d sees another success than the stored one", round, i)
			}
		}
		if won != 1 || failWon > 1 {
			t.Errorf("round %d: %d success and %d failure winners, want 1 and at most 1", round, won, failWon)
		}
	}
}

// brokenStore fails like a database that went away.
type brokenStore struct {
	Store
	failPending, failComplete bool
}

var errDBDown = errors.New("database down")

func (s brokenStore) Pending(ctx context.Context, id string) (*Pending, *Completion, error) {
	if s.failPending {
		return nil, nil, errDBDown
	}
	return s.Store.Pending(ctx, id)
}

func (s brokenStore) Complete(ctx context.Context, id string, c *Completion) (*Completion, bool, error) {
	if s.failComplete {
		return nil, false, errDBDown
	}
	return s.Store.Complete(ctx, id, c)
}

// TestVerifyStoreFailure: a store failure is an error (the portal answers
// 5xx and the app retries), not a verdict on the result.
func TestVerifyStoreFailure(t *testing.T) {
	f := newFixture(t)
	p := f.pending(t, 1, crypto.SHA256)
	payload := enc(t, f.success(t, p, f.rsa, signer.RSAPKCS1v15))
	for _, bs := range []brokenStore{{Store: f.store, failPending: true}, {Store: f.store, failComplete: true}} {
		v := *f.v
		v.Store = bs
		if o, err := v.Verify(context.Background(), payload); !errors.Is(err, errDBDown) || o != nil {
			t.Errorf("Verify: %v %v, want the store's error", o, err)
		}
	}
	// After the store recovers, the same delivery is accepted.
	if o, err := f.v.Verify(context.Background(), payload); err != nil || o.Kind != Accepted {
		t.Errorf("after recovery: %v %v", o, err)
	}
}

func TestFailureMessageClipped(t *testing.T) {
	f := newFixture(t)
	p := f.pending(t, 1, crypto.SHA256)
	r := NewFailure(p.RequestID, ErrCancelled)
	r.Message = "\x1b[31mred\x00" + strings.Repeat("क", 1000)
	o, err := f.v.Verify(context.Background(), enc(t, r))
	if err != nil || o.Kind != Accepted {
		t.Fatalf("%v %v", o, err)
	}
	m := o.Completion.Message
	if len(m) > maxMessage || strings.ContainsAny(m, "\x1b\x00") || !strings.HasPrefix(m, "[31mred") {
		t.Errorf("stored message %q (%d bytes)", m[:20], len(m))
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		o    Outcome
		want int
	}{
		{Outcome{Kind: Accepted}, 200},
		{Outcome{Kind: Duplicate}, 200},
		{Outcome{Kind: Conflict}, 409},
		{Outcome{Kind: Rejected, Err: ErrTooLarge}, 413},
		{Outcome{Kind: Rejected, Err: ErrUnknownRequest}, 404},
		{Outcome{Kind: Rejected, Err: ErrMalformed}, 400},
		{Outcome{Kind: Rejected, Err: ErrExpired}, 422},
		{Outcome{Kind: Rejected, Err: signer.ErrSignatureInvalid}, 422},
	}
	for _, tc := range tests {
		if got := tc.o.HTTPStatus(); got != tc.want {
			t.Errorf("%s %v: %d, want %d", tc.o.Kind, tc.o.Err, got, tc.want)
		}
	}
}
