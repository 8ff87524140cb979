package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

type issueReq struct {
	UserID  string `json:"userId" validate:"required,max=64"`
	OTPID   string `json:"otpId" validate:"required,max=64"`
	OTP     string `json:"otp" validate:"required,max=12"`
	Profile string `json:"profile" validate:"omitempty,max=64"`
	CSRPem  string `json:"csrPem" validate:"required_without=KeyAlgo,excluded_with=KeyAlgo,max=32768"`
	KeyAlgo string `json:"keyAlgo" validate:"omitempty,oneof=RSA-2048 RSA-3072 ECDSA-P256"`
}

func pemOf(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.String()
}

// caError maps the CA's errors to API errors.
func caError(err error) error {
	switch {
	case errors.Is(err, pki.ErrBadCSR), errors.Is(err, pki.ErrWeakKey), errors.Is(err, pki.ErrBadSubject):
		return unprocessable(err, "%v", err)
	case errors.Is(err, pki.ErrUnknownProfile):
		return badRequest("%v", err)
	case errors.Is(err, pki.ErrAlreadyRevoked):
		return apiErr(http.StatusConflict, CodeConflict, "certificate already revoked")
	case errors.Is(err, pki.ErrNotFound):
		return notFoundErr("certificate")
	}
	return err
}

func (s *Server) issueCertificate(c echo.Context) error {
	var req issueReq
	body, err := s.bind(c, &req)
	if err != nil {
		return err
	}
	return s.idempotent(c, sha256.Sum256(body), func() (int, any, error) {
		ctx := c.Request().Context()
		p := who(c)
		u, err := s.store.User(ctx, p.TenantID, req.UserID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return 0, nil, notFoundErr("user")
			}
			return 0, nil, err
		}
		// Before the OTP: a refused profile spends nothing.
		allowed, ok := s.cfg.TenantProfiles[p.TenantID]
		if !ok {
			if allowed, err = TenantProfiles(ctx, s.store, p.TenantID); err != nil {
				return 0, nil, err
			}
		}
		if req.Profile, err = issueProfile(req.Profile, allowed); err != nil {
			return 0, nil, err
		}
		prof, err := s.ca.Profile(req.Profile)
		if err != nil {
			return 0, nil, caError(err)
		}
		// What the input decides is checked before the OTP is spent: a
		// refusal for the user's fields, the CSR or the key leaves it.
		subject, kt, err := issueInput(u, prof, req.CSRPem, req.KeyAlgo)
		if err != nil {
			return 0, nil, err
		}
		if err := s.checkOTP(c, u.ID, req.OTPID, req.OTP, "issue"); err != nil {
			return 0, nil, err
		}
		var cert *x509.Certificate
		rec := &Certificate{TenantID: p.TenantID, UserID: u.ID, Source: "issued", Profile: req.Profile, CreatedAt: s.cfg.Now()}
		if req.CSRPem != "" {
			cert, err = s.ca.IssueCSR(ctx, []byte(req.CSRPem), subject, req.Profile)
			rec.KeyLocation = "client"
		} else {
			var keyID string
			cert, keyID, err = s.ca.IssueKeyGen(ctx, kt, subject, req.Profile)
			rec.KeyLocation, rec.KeyKind, rec.KeyBlob = "server", s.userKeys.kind(keyID), []byte(keyID)
			if err == nil {
				// Convenience for the HSM's own tools: signing finds the
				// key by its id, so a failure here loses nothing.
				if serr := s.userKeys.storeCertificate(ctx, keyID, cert); serr != nil {
					s.log.WarnContext(ctx, "certificate not stored on the user-key token", "serial", cert.SerialNumber.Text(16), "err", serr)
				}
			}
		}
		if err != nil {
			s.metrics.outcome("issue", "failed")
			if ke := keyError(err); ke != nil {
				return 0, nil, ke
			}
			return 0, nil, caError(err)
		}
		sum := sha256.Sum256(cert.Raw)
		rec.ID, rec.SerialHex, rec.SHA256Hex, rec.DER = newID("crt_"), cert.SerialNumber.Text(16), hex.EncodeToString(sum[:]), cert.Raw
		rec.Chain = [][]byte{s.ca.Certificate().Raw}
		rec.NotBefore, rec.NotAfter = cert.NotBefore, cert.NotAfter
		if err := s.store.CreateCertificate(ctx, rec); err != nil {
			return 0, nil, err
		}
		s.audit(ctx, &AuditEntry{TenantID: p.TenantID, Actor: actor(c), Action: "certificate.issue", CertSerial: rec.SerialHex,
			Detail: u.ID + " key=" + rec.KeyLocation})
		s.metrics.outcome("issue", "issued")
		return http.StatusCreated, s.certAnswer(rec, cert), nil
	})
}

func (s *Server) certAnswer(rec *Certificate, cert *x509.Certificate) map[string]any {
	status := "active"
	if !rec.RevokedAt.IsZero() {
		status = "revoked"
	} else if s.cfg.Now().After(rec.NotAfter) {
		status = "expired"
	}
	chain, _ := parseDERs(rec.Chain)
	out := map[string]any{
		"success": true, "certificateId": rec.ID, "userId": rec.UserID, "serialNumber": rec.SerialHex, "sha256": rec.SHA256Hex,
		"certificatePem": pemOf(cert), "chainPem": pemOf(chain...), "subject": cert.Subject.String(), "issuer": cert.Issuer.String(),
		"notBefore": rec.NotBefore.UTC().Format(time.RFC3339), "notAfter": rec.NotAfter.UTC().Format(time.RFC3339),
		"keyLocation": rec.KeyLocation, "source": rec.Source, "status": status,
	}
	if !rec.RevokedAt.IsZero() {
		out["revokedAt"] = rec.RevokedAt.UTC().Format(time.RFC3339)
	}
	return out
}

// certByRef finds a tenant's certificate by id (crt_…) or hex serial.
func (s *Server) certByRef(c echo.Context, ref string) (*Certificate, *x509.Certificate, error) {
	ctx := c.Request().Context()
	p := who(c)
	var rec *Certificate
	var err error
	if strings.HasPrefix(ref, "crt_") {
		rec, err = s.store.Certificate(ctx, p.TenantID, ref)
	} else {
		n, perr := signer.ParseSerial(ref)
		if perr != nil {
			return nil, nil, notFoundErr("certificate")
		}
		rec, err = s.store.CertificateBySerial(ctx, p.TenantID, n.Text(16))
	}
	if errors.Is(err, ErrNotFound) {
		return nil, nil, notFoundErr("certificate")
	}
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, nil, err
	}
	return rec, cert, nil
}

func (s *Server) listCertificates(c echo.Context) error {
	recs, err := s.store.Certificates(c.Request().Context(), who(c).TenantID, c.QueryParam("userId"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		cert, err := x509.ParseCertificate(r.DER)
		if err != nil {
			return err
		}
		out = append(out, s.certAnswer(r, cert))
	}
	return c.JSON(http.StatusOK, map[string]any{"success": true, "certificates": out})
}

func (s *Server) getCertificate(c echo.Context) error {
	rec, cert, err := s.certByRef(c, c.Param("serial"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.certAnswer(rec, cert))
}

type revokeReq struct {
	Reason string `json:"reason" validate:"omitempty,max=40"`
}

func (s *Server) revokeCertificate(c echo.Context) error {
	var req revokeReq
	if c.Request().ContentLength != 0 {
		if _, err := s.bind(c, &req); err != nil {
			return err
		}
	}
	rec, cert, err := s.certByRef(c, c.Param("serial"))
	if err != nil {
		return err
	}
	if !rec.RevokedAt.IsZero() {
		return apiErr(http.StatusConflict, CodeConflict, "certificate already revoked")
	}
	reason := 0
	if req.Reason != "" {
		if reason, err = pki.ParseReason(req.Reason); err != nil {
			return badRequest("%v", err)
		}
	}
	ctx := c.Request().Context()
	if rec.Source == "issued" {
		if err := s.ca.Revoke(ctx, cert.SerialNumber, reason); err != nil && !errors.Is(err, pki.ErrAlreadyRevoked) {
			return caError(err)
		}
	}
	if err := s.store.RevokeCertificate(ctx, rec.TenantID, rec.ID, s.cfg.Now()); err != nil {
		return err
	}
	s.audit(ctx, &AuditEntry{TenantID: rec.TenantID, Actor: actor(c), Action: "certificate.revoke", CertSerial: rec.SerialHex, Detail: req.Reason})
	rec.RevokedAt = s.cfg.Now()
	return c.JSON(http.StatusOK, s.certAnswer(rec, cert))
}

// serverSigner loads the private key of a server-held credential after
// the checks every use needs: the tenant's, server-held, not revoked, valid.
func (s *Server) serverSigner(c echo.Context, certificateID string) (*Certificate, signer.Signer, error) {
	rec, cert, err := s.certByRef(c, certificateID)
	if err != nil {
		return nil, nil, err
	}
	if rec.KeyLocation != "server" {
		return nil, nil, unprocessable(nil, "certificate %s has no server-held key", rec.ID)
	}
	now := s.cfg.Now()
	if !rec.RevokedAt.IsZero() {
		return nil, nil, unprocessable(nil, "certificate %s is revoked", rec.ID)
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, nil, unprocessable(nil, "certificate %s is outside its validity", rec.ID)
	}
	ctx := c.Request().Context()
	var sg signer.Signer
	if rec.KeyKind == keyKindPKCS11 {
		// The record has the key id and the certificate: no need for the
		// CA's copy. The key stays open on the token between calls.
		var key crypto.Signer
		if key, err = s.userKeys.Signer(ctx, string(rec.KeyBlob)); err == nil {
			sg, err = newTokenCredential(key, cert, s.ca.ChainCerts())
		}
	} else {
		sg, err = s.ca.LoadSigner(ctx, new(big.Int).Set(cert.SerialNumber))
	}
	if err != nil {
		if ke := keyError(err); ke != nil {
			ke.Msg = "certificate " + rec.ID + ": " + ke.Msg
			return nil, nil, ke
		}
		return nil, nil, err
	}
	return rec, sg, nil
}

// keyError maps a failure of the token holding a server-held key to an
// answer with the protocol's code for it (callback.CodeOf): 503 when the
// token is missing, locked or refuses the gateway's PIN (the operator must
// act; the caller may retry later), 422 when the token is there but the
// key is not. It returns nil for other errors.
func keyError(err error) *apiError {
	var status int
	var msg string
	switch {
	case errors.Is(err, signer.ErrTokenNotFound):
		status, msg = http.StatusServiceUnavailable, "the token holding the key is not available"
	case errors.Is(err, signer.ErrPINLocked):
		status, msg = http.StatusServiceUnavailable, "the PIN of the token holding the key is locked"
	case errors.Is(err, signer.ErrPINIncorrect):
		status, msg = http.StatusServiceUnavailable, "the token holding the key refuses the gateway's PIN"
	case errors.Is(err, signer.ErrKeyNotFound):
		status, msg = http.StatusUnprocessableEntity, "the key is not on the token"
	default:
		return nil
	}
	return &apiError{Status: status, Code: string(callback.CodeOf(err)), Msg: msg, Err: err}
}

// tokenCredential is a server-held key on the user-key token with its
// certificate. Its key is a pki.PKCS11KeyStore signer, which verifies every
// signature with the token's public key before returning it: that key is
// checked equal to the certificate's here, so signDigest need not verify
// again.
type tokenCredential struct {
	key   crypto.Signer
	cert  *x509.Certificate
	chain []*x509.Certificate
}

func newTokenCredential(key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate) (*tokenCredential, error) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: the key on the token does not match certificate %x", signer.ErrKeyNotFound, cert.SerialNumber)
	}
	return &tokenCredential{key: key, cert: cert, chain: chain}, nil
}

func (t *tokenCredential) Public() crypto.PublicKey { return t.key.Public() }

// Sign signs on the token; the signature is verified before it returns.
func (t *tokenCredential) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return t.key.Sign(r, digest, opts)
}

func (t *tokenCredential) Certificate() *x509.Certificate { return t.cert }

func (t *tokenCredential) Chain() []*x509.Certificate { return slices.Clone(t.chain) }

// signDigest is signer.SignDigest, which verifies every signature unless
// package signer made the signer itself; a tokenCredential's signatures
// are verified on their way out of the token already, and verifying again
// would cost about 5% of the signing rate.
func signDigest(ctx context.Context, sg signer.Signer, alg signer.Algorithm, hash crypto.Hash, digest []byte) ([]byte, error) {
	tc, ok := sg.(*tokenCredential)
	if !ok {
		return signer.SignDigest(ctx, sg, alg, hash, digest)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// signer.SignDigest's options for alg; the token gives ECDSA in DER.
	var opts crypto.SignerOpts = hash
	switch tc.cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch alg {
		case signer.RSAPKCS1v15:
		case signer.RSAPSS:
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
		default:
			return nil, fmt.Errorf("%w: %s with an RSA key", signer.ErrUnsupportedAlgorithm, alg)
		}
	case *ecdsa.PublicKey:
		if alg != signer.ECDSA {
			return nil, fmt.Errorf("%w: %s with an ECDSA key", signer.ErrUnsupportedAlgorithm, alg)
		}
	default:
		return nil, fmt.Errorf("%w: key type %T", signer.ErrUnsupportedAlgorithm, tc.cert.PublicKey)
	}
	return tc.Sign(nil, digest, opts)
}
