package pki

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// RFC 5280 CRLReason codes.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonRemoveFromCRL        = 8
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

var reasonNames = map[int]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// ReasonName returns the RFC 5280 name of a reason code.
func ReasonName(code int) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return "reason-" + strconv.Itoa(code)
}

// ParseReason accepts an RFC 5280 reason name (case-insensitive, e.g.
// "keyCompromise") or code usable for a permanent revocation.
// certificateHold and removeFromCRL are refused: this CA does not suspend.
func ParseReason(s string) (int, error) {
	s = strings.TrimSpace(s)
	code := -1
	if n, err := strconv.Atoi(s); err == nil {
		code = n
	} else {
		for c, name := range reasonNames {
			if strings.EqualFold(name, s) {
				code = c
			}
		}
	}
	if err := checkReason(code); err != nil {
		return 0, fmt.Errorf("%w (%q)", err, s)
	}
	return code, nil
}

func checkReason(code int) error {
	switch code {
	case ReasonUnspecified, ReasonKeyCompromise, ReasonCACompromise, ReasonAffiliationChanged,
		ReasonSuperseded, ReasonCessationOfOperation, ReasonPrivilegeWithdrawn, ReasonAACompromise:
		return nil
	}
	return fmt.Errorf("%w: %s is not a reason for permanent revocation", ErrBadReason, ReasonName(code))
}

// Revoke revokes a certificate the CA issued, effective now, for an RFC 5280
// reason code. Errors wrap ErrBadReason, ErrNotFound or ErrAlreadyRevoked,
// and change nothing.
func (ca *CA) Revoke(ctx context.Context, serial *big.Int, reason int) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if serial == nil || serial.Sign() <= 0 {
		return fmt.Errorf("%w: invalid serial", ErrNotFound)
	}
	if err := ca.cfg.Store.Revoke(ctx, serial, reason, ca.cfg.Now().UTC().Truncate(secondUnit)); err != nil {
		return err
	}
	ca.crlMu.Lock()
	ca.crlCache = nil
	ca.crlMu.Unlock()
	return nil
}

// CRL returns a DER CRL of the certificates the CA revoked, signed by the
// issuing CA, with a CRL number from the store and nextUpdate
// CRLValidity ahead. A CRL is reused while the revocation list is unchanged
// and less than a tenth of CRLValidity old.
func (ca *CA) CRL(ctx context.Context) ([]byte, error) {
	revoked, err := ca.cfg.Store.Revoked(ctx)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL: %w", err)
	}
	now := ca.cfg.Now().UTC()
	ca.crlMu.Lock()
	defer ca.crlMu.Unlock()
	if c := ca.crlCache; c != nil && c.revoked == len(revoked) && now.Sub(c.at) < ca.cfg.CRLValidity/10 && now.After(c.at) {
		return c.der, nil
	}
	num, err := ca.cfg.Store.NextCRLNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("pki: CRL number: %w", err)
	}
	tmpl := &x509.RevocationList{
		Number:     num,
		ThisUpdate: now.Truncate(secondUnit),
		NextUpdate: now.Truncate(secondUnit).Add(ca.cfg.CRLValidity),
	}
	for _, r := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: r.Serial, RevocationTime: r.RevokedAt, ReasonCode: r.Reason,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cfg.Cert, ca.cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: signing CRL: %w", err)
	}
	ca.crlCache = &cachedCRL{der: der, revoked: len(revoked), at: now, next: tmpl.NextUpdate}
	return der, nil
}

const secondUnit = time.Second
