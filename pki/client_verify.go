package pki

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// VerifyOptions configures VerifyChain.
type VerifyOptions struct {
	// Roots are the trust anchors. It must be set: VerifyChain never falls
	// back to the system roots, which are for TLS, not for signatures.
	Roots *x509.CertPool
	// At is the validation time; zero means now.
	At time.Time
	// Revocation checks revocation online; nil means no online checks.
	Revocation *RevocationChecker
	// EmbeddedOCSP and EmbeddedCRLs are DER OCSP responses and CRLs (for
	// example from a PDF's DSS), consulted before any online check.
	EmbeddedOCSP, EmbeddedCRLs [][]byte
	// RequireSigningKeyUsage requires the leaf's key usage, when present, to
	// include digitalSignature or nonRepudiation.
	RequireSigningKeyUsage bool
	// Responders decides which delegated OCSP responders count in
	// EmbeddedOCSP (see [ResponderPolicy]); nil takes Revocation's policy
	// (RevocationOptions.Responders), and without Revocation believes every
	// responder RFC 6960 allows. Online answers always follow Revocation's.
	Responders ResponderPolicy
}

// ChainResult is the outcome of VerifyChain.
type ChainResult struct {
	// Chain runs from the leaf to the trust anchor.
	Chain []*x509.Certificate
	// Revocation has one status per non-root certificate of Chain, in the
	// same order; it is empty when revocation checking is off.
	Revocation []*RevocationStatus
}

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// VerifyChain builds a chain from leaf through intermediates to one of
// opts.Roots, valid at opts.At, and checks the leaf's key usage and the
// revocation of every certificate but the root: embedded data first, then
// opts.Revocation. Any extended key usage is accepted. A certificate revoked
// after opts.At counts as good, so a signature timestamped before a
// revocation stays valid.
//
// Errors wrap ErrUntrusted, ErrOutsideValidity, ErrKeyUsage, ErrRevoked or
// ErrRevocationUnknown (hard fail only). With ErrRevoked and
// ErrRevocationUnknown the result is returned too.
func VerifyChain(ctx context.Context, leaf *x509.Certificate, intermediates []*x509.Certificate, opts VerifyOptions) (*ChainResult, error) {
	if leaf == nil {
		return nil, fmt.Errorf("%w: no certificate", ErrUntrusted)
	}
	if opts.Roots == nil {
		return nil, fmt.Errorf("%w: no trust anchors configured", ErrUntrusted)
	}
	at := opts.At
	if at.IsZero() {
		at = time.Now()
	}
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		if c != nil {
			pool.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: pool,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, fmt.Errorf("%w at %s: %w", ErrOutsideValidity, at.UTC().Format(time.RFC3339), err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUntrusted, err)
	}
	res := &ChainResult{Chain: chains[0]}

	if opts.RequireSigningKeyUsage && hasExtension(leaf, oidExtKeyUsage) &&
		leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, fmt.Errorf("%w: certificate %x has neither digitalSignature nor nonRepudiation", ErrKeyUsage, leaf.SerialNumber)
	}

	if opts.Revocation == nil && len(opts.EmbeddedOCSP) == 0 && len(opts.EmbeddedCRLs) == 0 {
		return res, nil
	}
	for i := 0; i+1 < len(res.Chain); i++ {
		cert, issuer := res.Chain[i], res.Chain[i+1]
		var st *RevocationStatus
		if len(opts.EmbeddedOCSP) > 0 || len(opts.EmbeddedCRLs) > 0 {
			policy := opts.Responders
			if policy == nil && opts.Revocation != nil {
				policy = opts.Revocation.opts.Responders
			}
			st = embeddedStatus(cert, issuer, opts.EmbeddedOCSP, opts.EmbeddedCRLs, at, policy)
		}
		if (st == nil || st.State == StateUnknown) && opts.Revocation != nil {
			st, err = opts.Revocation.Check(ctx, cert, issuer)
			if err != nil {
				res.Revocation = append(res.Revocation, st)
				return res, err
			}
		}
		res.Revocation = append(res.Revocation, st)
		if st.State == StateRevoked {
			if st.RevokedAt.IsZero() || !st.RevokedAt.After(at) {
				return res, fmt.Errorf("%w: %q (serial %x) since %s, reason %s (%s)", ErrRevoked,
					cert.Subject.CommonName, cert.SerialNumber, st.RevokedAt.UTC().Format(time.RFC3339), ReasonName(st.Reason), st.Source)
			}
		}
	}
	return res, nil
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// LoadTrustAnchors reads certificates from PEM files (DER files are accepted
// too), for example the CCA India root certificates an operator provides,
// and returns them as a pool and a list. A file without a certificate is an
// error.
func LoadTrustAnchors(paths ...string) (*x509.CertPool, []*x509.Certificate, error) {
	pool := x509.NewCertPool()
	var all []*x509.Certificate
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("pki: trust anchors: %w", err)
		}
		certs, err := ParseCertificates(data)
		if err != nil {
			return nil, nil, fmt.Errorf("pki: trust anchors in %s: %w", p, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		all = append(all, certs...)
	}
	return pool, all, nil
}

// ParseCertificates parses PEM CERTIFICATE blocks, or one DER certificate,
// with ParseCertificate (negative serial numbers accepted). No certificate
// at all is an error.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		c, err := ParseCertificate(data)
		if err != nil {
			return nil, errors.New("no PEM certificate and not a DER certificate")
		}
		certs = append(certs, c)
	}
	return certs, nil
}
