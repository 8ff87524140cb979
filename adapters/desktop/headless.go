package desktop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/signer"
)

// HeadlessOptions drive [App.Headless].
type HeadlessOptions struct {
	// CertSerial is the hex serial of the certificate to sign with, or
	// CertSHA256 the SHA-256 of its DER (at most one of them). When both
	// are empty, the link's certSerial or certSha256 is used, or the only
	// certificate found.
	CertSerial string
	CertSHA256 []byte
	// PIN is the token PIN; Headless zeroes it before returning.
	PIN []byte
}

// Headless handles link without a page, for automation and tests: the same
// checks, signing and delivery as the interactive flow, with the answers
// given up front. A wrong PIN is not retried and, as on the page, not
// reported to the portal: the request stays open (a failure result would
// mark it failed), and the error, wrapping signer.ErrPINIncorrect with
// the tries left when the token tells, says to run again with the right
// PIN. A locked PIN is final and is reported (SS_PIN_BLOCKED).
//
// It returns the result it delivered (nil when nothing could be sent: the
// link was not acceptable at all) and the first error.
func (a *App) Headless(ctx context.Context, link string, o HeadlessOptions) (*callback.Result, error) {
	defer clear(o.PIN)
	chk, err := a.Check(ctx, link)
	if err != nil {
		if chk == nil {
			return nil, err
		}
		return a.fail(ctx, chk, err)
	}
	certs, errs := a.Keystore.Certificates(ctx)
	for _, e := range errs {
		a.log().Warn("keystore", "err", e)
	}
	if len(certs) == 0 {
		err := fmt.Errorf("%w: no certificate on any token", signer.ErrTokenNotFound)
		if len(errs) > 0 {
			err = fmt.Errorf("%w: %w", err, errors.Join(errs...))
		}
		return a.fail(ctx, chk, err)
	}
	serial, sum := o.CertSerial, o.CertSHA256
	if serial == "" && sum == nil {
		serial = chk.Request().CertSerial
		if serial == "" && chk.Request().CertSHA256 != "" {
			if sum, err = hex.DecodeString(chk.Request().CertSHA256); err != nil {
				return a.fail(ctx, chk, err)
			}
		}
	}
	var cert Cert
	switch {
	case serial != "" && sum != nil:
		err = errors.New("desktop: choose the certificate by serial or by SHA-256, not both")
	case serial != "":
		cert, err = SelectCert(certs, serial)
	case sum != nil:
		cert, err = SelectCertSHA256(certs, sum)
	case len(certs) == 1:
		cert = certs[0]
	default:
		err = fmt.Errorf("%w: %d certificates found, choose one with --cert-serial or --cert-sha256", signer.ErrCertNotFound, len(certs))
	}
	if err != nil {
		return a.fail(ctx, chk, err)
	}
	res, err := a.Sign(ctx, chk, cert, o.PIN)
	if errors.Is(err, signer.ErrPINIncorrect) {
		return nil, fmt.Errorf("desktop: %w; nothing was sent, the request stays open: run again with the right PIN before it expires", err)
	}
	if err != nil {
		return a.fail(ctx, chk, err)
	}
	if err := a.Deliver(ctx, chk, res); err != nil {
		return res, fmt.Errorf("desktop: signed, but delivering the result failed: %w", err)
	}
	return res, nil
}

// SelectCertSHA256 finds the certificate whose DER has SHA-256 sum.
func SelectCertSHA256(certs []Cert, sum []byte) (Cert, error) {
	for _, c := range certs {
		if d := sha256.Sum256(c.Certificate.Raw); bytes.Equal(d[:], sum) {
			return c, nil
		}
	}
	return Cert{}, fmt.Errorf("%w: no certificate with SHA-256 %x on the tokens", signer.ErrCertNotFound, sum)
}

// fail reports err to the portal and returns it.
func (a *App) fail(ctx context.Context, chk *Checked, err error) (*callback.Result, error) {
	r := a.Failure(chk, err)
	if derr := a.Deliver(ctx, chk, r); derr != nil {
		return r, fmt.Errorf("%w (and reporting it to the portal failed: %v)", err, derr)
	}
	return r, err
}
