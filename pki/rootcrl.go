package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Paths, relative to Config.BaseURL, of the root CA's revocation list and
// certificate. NewHierarchy writes them into the issuing CA certificate
// (CRL distribution point and AIA caIssuers); Handler serves them.
const (
	RootCRLPath  = "/crl/root"
	RootCertPath = "/root.crt"
)

// ErrNoRootCRL means the CA cannot serve a root-signed CRL: Config has
// neither RootKey nor RootCRL.
var ErrNoRootCRL = errors.New("pki: no root CRL configured (Config.RootKey or Config.RootCRL)")

// rootCRLState caches the authority revocation list signed by the root.
type rootCRLState struct {
	mu   sync.Mutex
	der  []byte
	at   time.Time
	next time.Time
	// last is the CRL number of the last list made, so that numbers grow
	// even when the store keeps no counter for the root.
	last *big.Int
}

// rootCRLNumberer is implemented by stores that keep a persistent counter
// for the root CRL (cadir.Store): NextRootCRLNumber returns the next number,
// a counter separate from NextCRLNumber's. Other stores get numbers from
// the clock.
type rootCRLNumberer interface {
	NextRootCRLNumber(ctx context.Context) (*big.Int, error)
}

// RootCRL returns the authority revocation list: a DER CRL signed by the
// root CA, about the CA certificates the root issued (the issuing CA's
// certificate names it as its CRL distribution point when NewHierarchy was
// given a BaseURL). With Config.RootKey it is made on demand, with its own
// CRL number and nextUpdate CRLValidity ahead, and reused for a tenth of
// CRLValidity; otherwise Config.RootCRL is returned as given. It lists no
// revoked certificates: revoking the issuing CA is done by replacing it.
// Without either the error wraps ErrNoRootCRL.
func (ca *CA) RootCRL(ctx context.Context) ([]byte, error) {
	if ca.cfg.RootKey == nil {
		if ca.cfg.RootCRL == nil {
			return nil, ErrNoRootCRL
		}
		return ca.cfg.RootCRL, nil
	}
	now := ca.cfg.Now().UTC()
	r := &ca.rootCRL
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.der != nil && now.After(r.at) && now.Sub(r.at) < ca.cfg.CRLValidity/10 {
		return r.der, nil
	}
	var num *big.Int
	if n, ok := ca.cfg.Store.(rootCRLNumberer); ok {
		var err error
		if num, err = n.NextRootCRLNumber(ctx); err != nil {
			return nil, fmt.Errorf("pki: root CRL number: %w", err)
		}
	} else {
		// Seconds since 1970 grow across restarts; last+1 keeps them
		// strictly increasing within this process.
		num = big.NewInt(now.Unix())
	}
	if r.last != nil && num.Cmp(r.last) <= 0 {
		num = new(big.Int).Add(r.last, big.NewInt(1))
	}
	thisUpdate := now.Truncate(secondUnit)
	der, err := CreateRootCRL(ca.Root(), ca.cfg.RootKey, num, nil, thisUpdate, thisUpdate.Add(ca.cfg.CRLValidity))
	if err != nil {
		return nil, err
	}
	r.der, r.at, r.next, r.last = der, now, thisUpdate.Add(ca.cfg.CRLValidity), num
	return der, nil
}

// CreateRootCRL signs a CRL as root with key: the revocation list of the CA
// certificates root issued, for publishing where the issuing CA
// certificates' CRL distribution point says (an offline root signs one
// ahead of time and the CA serves it as Config.RootCRL).
func CreateRootCRL(root *x509.Certificate, key crypto.Signer, number *big.Int, revoked []RevokedEntry, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if root == nil || key == nil || number == nil || number.Sign() <= 0 {
		return nil, errors.New("pki: CreateRootCRL needs the root, its key and a positive CRL number")
	}
	if !publicKeyEqual(key.Public(), root.PublicKey) {
		return nil, errors.New("pki: root CRL: key does not match the root certificate")
	}
	if !nextUpdate.After(thisUpdate) {
		return nil, errors.New("pki: root CRL: nextUpdate must be after thisUpdate")
	}
	tmpl := &x509.RevocationList{Number: number, ThisUpdate: thisUpdate.UTC(), NextUpdate: nextUpdate.UTC()}
	for _, e := range revoked {
		if err := checkReason(e.Reason); err != nil {
			return nil, err
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: e.Serial, RevocationTime: e.RevokedAt.UTC(), ReasonCode: e.Reason,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, root, key)
	if err != nil {
		return nil, fmt.Errorf("pki: signing root CRL: %w", err)
	}
	return der, nil
}

// checkRootCRL checks a Config.RootCRL: a CRL signed by root.
func checkRootCRL(der []byte, root *x509.Certificate) error {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return err
	}
	if err := crl.CheckSignatureFrom(root); err != nil {
		return fmt.Errorf("not signed by the root: %w", err)
	}
	return nil
}
