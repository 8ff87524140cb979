package callback

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// Kind is the verdict on a delivered result.
type Kind string

const (
	// Accepted: the result was valid and was recorded: a success completes
	// the request; a failure marks it failed but, until the request
	// expires, a verified success still completes it (PROTOCOL 1.1 §3),
	// so whoever sees a link cannot block it with a forged cancel.
	Accepted Kind = "accepted"
	// Duplicate: the same result completed the request before; nothing
	// changed and the outcome is the recorded one.
	Duplicate Kind = "duplicate"
	// Conflict: the request was already completed by a different result;
	// this one is refused (HTTP 409). This includes a failure (a cancel)
	// arriving after a success (the success stands) and a second,
	// different failure (the first is kept; a success may still follow).
	Conflict Kind = "conflict"
	// Rejected: the result is invalid (Code and Err say why); nothing changed.
	Rejected Kind = "rejected"
)

// Outcome is what Verify decided.
type Outcome struct {
	Kind      Kind
	RequestID string
	// Code is, for Rejected, why (CodeOf(Err)); otherwise the recorded
	// failure's code, or "" for a recorded success.
	Code Code
	// Detail is a human-readable explanation.
	Detail string
	// Err is the reason of a rejection, testable with errors.Is.
	Err error
	// Result is the decoded result (nil if it did not decode).
	Result *Result
	// Pending is the request the result is for, if known.
	Pending *Pending
	// Completion is the recorded completion (Accepted, Duplicate, Conflict):
	// for an accepted success the verified certificate, chain and
	// signatures.
	Completion *Completion
}

// Success reports whether the request is completed with a success.
func (o *Outcome) Success() bool { return o.Completion != nil && o.Completion.Success }

// Verifier checks delivered results against the pending requests of its
// Store: every check of docs/protocol.md §2.2 "What the consumer checks".
type Verifier struct {
	Store Store
	// Roots are the trust anchors the signer certificate must chain to
	// (for example the CCA India roots). Required.
	Roots *x509.CertPool
	// Intermediates are extra intermediates, besides the result's chainBase64.
	Intermediates []*x509.Certificate
	// Revocation checks OCSP, then CRLs; nil turns revocation checking off.
	Revocation *pki.RevocationChecker
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSize bounds the encoded result; zero means MaxEncodedSize, which
	// is also the most Decode accepts.
	MaxSize int
	// Chains, when set, caches the chains verified to Roots so that a
	// signer's next results skip the issuers' signatures; validity and
	// revocation are still checked for every result. Share one ChainCache
	// between the Verifiers of a process; nil verifies every chain in full.
	Chains *ChainCache
	// Authorize, when set, is asked about a success after every other
	// check passed (the signatures verify over the issued digests and the
	// certificate chains to Roots). It gets the request and the verified
	// chain, leaf first and trust anchor last. A non-nil error rejects the
	// result and nothing is recorded; its Code is CodeOf(err), so wrap
	// ErrCertMismatch for "not a certificate this request may be completed
	// with". The gateway keeps its tenants apart with it.
	Authorize func(ctx context.Context, p *Pending, chain []*x509.Certificate) error
}

// Verify decodes and checks one delivered ss_result and, if valid, records
// it as the request's completion. The error is non-nil only when the check
// could not be made (the store failed, ctx ended); every verdict on the
// result itself is in the Outcome.
//
// A result for a completed request is compared with the recorded one: the
// same result (same requestId, success, error code, signatures and
// certificate, however encoded) is a Duplicate, anything else a Conflict.
// Replays are answered even after the request has expired.
func (v *Verifier) Verify(ctx context.Context, encoded string) (*Outcome, error) {
	limit := v.MaxSize
	if limit <= 0 {
		limit = MaxEncodedSize
	}
	if len(encoded) > limit {
		return reject(&Outcome{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(encoded), limit)), nil
	}
	r, err := Decode(encoded)
	if err != nil {
		return reject(&Outcome{}, err), nil
	}
	o := &Outcome{RequestID: r.RequestID, Result: r}
	if v.Store == nil {
		return nil, errors.New("callback: Verifier has no Store")
	}
	p, done, err := v.Store.Pending(ctx, r.RequestID)
	if errors.Is(err, ErrUnknownRequest) {
		return reject(o, err), nil
	}
	if err != nil {
		return nil, fmt.Errorf("callback: store: %w", err)
	}
	if p == nil {
		return reject(o, fmt.Errorf("%w: %q", ErrUnknownRequest, r.RequestID)), nil
	}
	o.Pending = p
	h, err := resultHash(r)
	if err != nil {
		return reject(o, err), nil
	}
	if done != nil && (done.Success || !r.Success || done.ResultHash == h) {
		// A recorded failure does not complete the request (PROTOCOL 1.1
		// §3): only a success may still follow it, until expiry.
		return settled(o, done, h), nil
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt) {
		return reject(o, fmt.Errorf("%w at %s", ErrExpired, p.ExpiresAt.UTC().Format(time.RFC3339))), nil
	}
	var c *Completion
	if r.Success {
		c, err = v.checkSuccess(ctx, p, r, now)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return reject(o, err), nil
		}
	} else {
		if !validCode(r.Error) {
			return reject(o, fmt.Errorf("%w: error code %q", ErrMalformed, truncate(string(r.Error)))), nil
		}
		c = &Completion{Code: r.Error, Message: clip(r.Message, maxMessage)}
	}
	c.ResultHash, c.CompletedAt = h, now
	stored, won, err := v.Store.Complete(ctx, r.RequestID, c)
	if errors.Is(err, ErrUnknownRequest) {
		return reject(o, err), nil
	}
	if err != nil {
		return nil, fmt.Errorf("callback: store: %w", err)
	}
	if !won {
		return settled(o, stored, h), nil
	}
	o.Kind, o.Completion, o.Code = Accepted, stored, stored.Code
	if stored.Success {
		o.Detail = fmt.Sprintf("signed: %d signature(s) by %q", len(stored.Signatures), stored.Certificate.Subject.CommonName)
	} else {
		o.Detail = "failed: " + string(stored.Code)
	}
	return o, nil
}

func reject(o *Outcome, err error) *Outcome {
	o.Kind, o.Err, o.Code, o.Detail = Rejected, err, CodeOf(err), err.Error()
	return o
}

// settled answers a result for a completed request.
func settled(o *Outcome, stored *Completion, h [32]byte) *Outcome {
	o.Completion, o.Code = stored, stored.Code
	switch {
	case stored.ResultHash == h:
		o.Kind, o.Detail = Duplicate, "this result was already accepted"
	case stored.Success && !o.Result.Success:
		o.Kind, o.Detail = Conflict, fmt.Sprintf("the request was already signed; a failure never overwrites a success, %q ignored", truncate(string(o.Result.Error)))
	case !stored.Success && !o.Result.Success:
		o.Kind, o.Detail = Conflict, fmt.Sprintf("the request already has a failure recorded (%s); only a signature can follow it", truncate(string(stored.Code)))
	default:
		o.Kind, o.Detail = Conflict, "the request was already completed by a different result"
	}
	return o
}

func validCode(c Code) bool {
	s := string(c)
	if !strings.HasPrefix(s, "SS_") || len(s) > 64 {
		return false
	}
	for i := 3; i < len(s); i++ {
		if !('A' <= s[i] && s[i] <= 'Z' || '0' <= s[i] && s[i] <= '9' || s[i] == '_') {
			return false
		}
	}
	return true
}

// maxMessage bounds the failure message a completion keeps: it is display
// text from an unauthenticated party.
const maxMessage = 512

// clip shortens s to at most n bytes, on a rune boundary, dropping control
// characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// resultHash identifies a result by what it decides: request, success,
// error code, signatures and certificate (decoded bytes), so a replay in
// another base64 alphabet or with another message is the same result.
func resultHash(r *Result) ([32]byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "ss_result/v1\n%s\n%t\n%s\n", r.RequestID, r.Success, r.Error)
	if r.Success {
		sigs, err := r.Signatures()
		if err != nil {
			return [32]byte{}, err
		}
		for _, s := range sigs {
			fmt.Fprintf(h, "sig %d\n", len(s))
			h.Write(s)
		}
		if r.CertificateBase64 != "" {
			der, err := decodeB64(r.CertificateBase64)
			if err != nil {
				return [32]byte{}, fmt.Errorf("%w: certificateBase64 is not base64", ErrCertificate)
			}
			fmt.Fprintf(h, "cert %d\n", len(der))
			h.Write(der)
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// checkSuccess runs the checks of §2.3 and returns the completion to record.
func (v *Verifier) checkSuccess(ctx context.Context, p *Pending, r *Result, now time.Time) (*Completion, error) {
	sigs, err := r.Signatures()
	if err != nil {
		return nil, err
	}
	var digests [][]byte
	hash := p.HashAlgo
	switch p.Action {
	case deeplink.ActionRegister:
		digests, hash = [][]byte{deeplink.RegisterDigest(p.Origin, p.RequestID, p.Challenge)}, crypto.SHA256
	default:
		digests = p.Hashes
	}
	if len(digests) == 0 {
		return nil, fmt.Errorf("callback: pending request %q has no digest", p.RequestID)
	}
	if len(sigs) != len(digests) {
		return nil, fmt.Errorf("%w: %d, issued %d digest(s)", ErrSignatureCount, len(sigs), len(digests))
	}
	parse := x509.ParseCertificate
	if v.Chains != nil {
		parse = v.Chains.parse
	}
	leaf, chain, err := r.certificates(parse)
	if err != nil {
		return nil, err
	}
	switch {
	case leaf == nil && p.RegisteredCert == nil:
		return nil, fmt.Errorf("%w: the result has no certificateBase64 and the request no registered certificate", ErrNoCertificate)
	case leaf == nil:
		leaf = p.RegisteredCert
	case p.RegisteredCert != nil && !leaf.Equal(p.RegisteredCert):
		return nil, fmt.Errorf("%w: not the registered certificate %x", ErrCertMismatch, p.RegisteredCert.SerialNumber)
	}
	if p.CertSerial != nil && leaf.SerialNumber.Cmp(p.CertSerial) != 0 {
		return nil, fmt.Errorf("%w: serial %x, the request names %x", ErrCertMismatch, leaf.SerialNumber, p.CertSerial)
	}
	if p.CertSHA256 != nil {
		if sum := sha256.Sum256(leaf.Raw); !bytes.Equal(sum[:], p.CertSHA256) {
			return nil, fmt.Errorf("%w: SHA-256 %x, the request names %x", ErrCertMismatch, sum, p.CertSHA256)
		}
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%w: valid %s to %s, now %s", ErrCertExpired, leaf.NotBefore.UTC().Format(time.RFC3339),
			leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, fmt.Errorf("%w: certificate %x", ErrKeyUsage, leaf.SerialNumber)
	}
	if v.Roots == nil {
		return nil, fmt.Errorf("%w: the Verifier has no trust anchors", pki.ErrUntrusted)
	}
	inter := append(append([]*x509.Certificate(nil), v.Intermediates...), chain...)
	built, err := v.verifyChain(ctx, leaf, inter, now)
	if err != nil {
		return nil, err
	}
	alg := signer.DefaultAlgorithm(leaf.PublicKey)
	if r.SignAlgo != "" {
		if alg, err = signer.ParseAlgorithm(r.SignAlgo); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(sigs))
	for i, sig := range sigs {
		if out[i], err = verifySignature(leaf.PublicKey, alg, hash, digests[i], sig); err != nil {
			return nil, fmt.Errorf("signature %d of %d: %w", i+1, len(sigs), err)
		}
	}
	if v.Authorize != nil {
		if err := v.Authorize(ctx, p, built); err != nil {
			return nil, err
		}
	}
	c := &Completion{Success: true, Signatures: out, Certificate: leaf}
	if n := len(built); n > 2 {
		c.Chain = append([]*x509.Certificate(nil), built[1:n-1]...)
	}
	return c, nil
}

// verifySignature verifies sig and returns it in its normal form: ECDSA
// signatures in raw r||s form are converted to ASN.1 DER.
func verifySignature(pub crypto.PublicKey, alg signer.Algorithm, hash crypto.Hash, digest, sig []byte) ([]byte, error) {
	err := signer.VerifyDigest(pub, alg, hash, digest, sig)
	if err == nil {
		return sig, nil
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok && alg == signer.ECDSA {
		if der, ok := rawToDER(k, sig); ok {
			if signer.VerifyDigest(pub, alg, hash, digest, der) == nil {
				return der, nil
			}
		}
	}
	return nil, err
}

// rawToDER converts an r||s signature of the key's curve to DER.
func rawToDER(k *ecdsa.PublicKey, sig []byte) ([]byte, bool) {
	n := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n {
		return nil, false
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
	return der, err == nil
}

// HTTPStatus is the status a callback endpoint answers a POSTed result
// with, per docs/protocol.md §2.1 and §3: 200 for Accepted and Duplicate (the app stops
// retrying), 409 for Conflict, and for Rejected 413 (too large), 404
// (unknown requestId), 400 (malformed) or 422 (well-formed but unusable:
// expired, wrong certificate, bad signature). The app treats every 4xx as
// final.
func (o *Outcome) HTTPStatus() int {
	switch o.Kind {
	case Accepted, Duplicate:
		return 200
	case Conflict:
		return 409
	}
	switch {
	case errors.Is(o.Err, ErrTooLarge):
		return 413
	case errors.Is(o.Err, ErrUnknownRequest):
		return 404
	case errors.Is(o.Err, ErrMalformed), errors.Is(o.Err, ErrUnsupportedVersion):
		return 400
	}
	return 422
}
