package desktop

import (
	"context"
	"errors"
	"fmt"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/signer"
)

// HeadlessOptions drive [App.Headless].
type HeadlessOptions struct {
	// CertSerial is the hex serial of the certificate to sign with. When
	// empty, the link's certSerial is used, or the only certificate found.
	CertSerial string
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
	serial := o.CertSerial
	if serial == "" {
		serial = chk.Request().CertSerial
	}
	var cert Cert
	switch {
	case serial != "":
		cert, err = SelectCert(certs, serial)
	case len(certs) == 1:
		cert = certs[0]
	default:
		err = fmt.Errorf("%w: %d certificates found, choose one with --cert-serial", signer.ErrCertNotFound, len(certs))
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

// fail reports err to the portal and returns it.
func (a *App) fail(ctx context.Context, chk *Checked, err error) (*callback.Result, error) {
	r := a.Failure(chk, err)
	if derr := a.Deliver(ctx, chk, r); derr != nil {
		return r, fmt.Errorf("%w (and reporting it to the portal failed: %v)", err, derr)
	}
	return r, err
}
