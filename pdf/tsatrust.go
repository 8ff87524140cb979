package pdf

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/securesign/securesign/pki"
)

// checkTSAChain is checkChain for a time-stamping authority's certificate:
// under VerifyOptions.TSARoots and TSACertificates when either is set
// (see their doc), under Roots otherwise.
func (v *verifier) checkTSAChain(leaf *x509.Certificate, certs []*x509.Certificate, at time.Time, ocsps, crls [][]byte) chainStatus {
	roots, err := tsaRoots(v.opts, leaf)
	if err != nil {
		return chainStatus{chain: "untrusted", revocation: "not-checked", err: err}
	}
	if roots == v.opts.Roots {
		return v.checkChain(leaf, certs, at, ocsps, crls, false)
	}
	tv := *v // checkChain reads opts, ctx and the DSS certificates only
	tv.opts.Roots = roots
	return tv.checkChain(leaf, certs, at, ocsps, crls, false)
}

// tsaRoots returns the anchors a TSA certificate must chain to: Roots when
// no TSA trust is configured, a pool of the pinned certificate itself when
// leaf is one of TSACertificates, TSARoots otherwise; an error when leaf is
// not pinned and there are no TSARoots.
func tsaRoots(o VerifyOptions, leaf *x509.Certificate) (*x509.CertPool, error) {
	if o.TSARoots == nil && len(o.TSACertificates) == 0 {
		return o.Roots, nil
	}
	for _, c := range o.TSACertificates {
		if c != nil && leaf != nil && bytes.Equal(c.Raw, leaf.Raw) {
			p := x509.NewCertPool()
			p.AddCert(c)
			return p, nil
		}
	}
	if o.TSARoots != nil {
		return o.TSARoots, nil
	}
	name := ""
	if leaf != nil {
		name = leaf.Subject.String()
	}
	return nil, fmt.Errorf("%w: TSA %q is not one of the trusted time-stamping authorities", pki.ErrUntrusted, name)
}
