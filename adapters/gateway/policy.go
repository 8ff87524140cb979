package gateway

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
)

// This file holds the gateway's trust rules as plain functions over plain
// values, so that they are tested without HTTP: which certificate profiles
// the API issues, which certificates may complete which tenant's sessions,
// when a registration binds a certificate to a user, and which timestamps
// and OCSP answers the gateway believes.

// APIProfiles are the certificate profiles POST /v1/certificates/issue can
// issue (PROTOCOL 1.1 §7): end-entity signing certificates only. Service
// certificates (TSA, OCSP responder) come from the CA's operator alone.
var APIProfiles = []string{pki.ProfileIndividualSigning, pki.ProfileDocumentSigner}

// ErrProfileNotAllowed: the API does not issue that profile, or the
// operator narrowed the tenant's profiles and this one is not among them.
var ErrProfileNotAllowed = errors.New("gateway: certificate profile not allowed")

// issueProfile decides the profile of an API issuance: requested ("" is
// individual-signing) must be an end-entity signing profile and, when the
// operator narrowed the tenant's profiles (tenantProfiles not empty), one
// of them.
func issueProfile(requested string, tenantProfiles []string) (string, error) {
	p := requested
	if p == "" {
		p = pki.ProfileIndividualSigning
	}
	if !slices.Contains(APIProfiles, p) {
		return "", fmt.Errorf("%w: %q is not an end-entity signing profile; the API issues only %s (TSA and OCSP certificates are made by the CA's operator)",
			ErrProfileNotAllowed, requested, strings.Join(APIProfiles, ", "))
	}
	if len(tenantProfiles) > 0 && !slices.Contains(tenantProfiles, p) {
		return "", fmt.Errorf("%w: the operator allows this tenant only %s", ErrProfileNotAllowed, strings.Join(tenantProfiles, ", "))
	}
	return p, nil
}

func tenantProfilesSetting(tenantID string) string { return "tenant.profiles:" + tenantID }

// SetTenantProfiles narrows the profiles a tenant may have issued through
// the API to profiles (each one of APIProfiles); an empty list allows all
// of APIProfiles again. Only the operator calls it (securesign gateway
// admin tenant-profiles); no API call reaches it.
func SetTenantProfiles(ctx context.Context, st Store, tenantID string, profiles []string) error {
	if _, err := st.Tenant(ctx, tenantID); err != nil {
		return err
	}
	for _, p := range profiles {
		if !slices.Contains(APIProfiles, p) {
			return fmt.Errorf("%w: %q (choose from %s)", ErrProfileNotAllowed, p, strings.Join(APIProfiles, ", "))
		}
	}
	_, err := st.PutSetting(ctx, tenantProfilesSetting(tenantID), jsonBytes(profiles), false)
	return err
}

// TenantProfiles returns the profiles the operator narrowed a tenant to;
// empty means all of APIProfiles.
func TenantProfiles(ctx context.Context, st Store, tenantID string) ([]string, error) {
	raw, err := st.Setting(ctx, tenantProfilesSetting(tenantID))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("gateway: tenant %s profiles: %w", tenantID, err)
	}
	return out, nil
}

// serviceTrust is whom the gateway believes about time and revocation of
// its own CA's certificates: timestamps from its own time-stamping units
// (current and earlier certificates) or chaining to the operator's TSA
// anchors; OCSP answers about its CA's certificates signed by the CA key or
// its own responders.
type serviceTrust struct {
	tsaCerts   []*x509.Certificate
	tsaRoots   *x509.CertPool // nil: no outside TSA is trusted
	responders pki.ResponderPolicy
}

// loadServiceTrust reads the gateway's own service certificates (settings
// "ca.tsa", "ca.ocsp" and their ".previous" lists) and the operator's TSA
// anchors.
func loadServiceTrust(ctx context.Context, st Store, ca *pki.CA, tsaTrustFiles []string) (*serviceTrust, error) {
	tsa, err := serviceCerts(ctx, st, "ca.tsa")
	if err != nil {
		return nil, err
	}
	ocsp, err := serviceCerts(ctx, st, "ca.ocsp")
	if err != nil {
		return nil, err
	}
	// The CA's signers are the stored ones; named again in case a store
	// write lagged.
	if s := ca.TSASigner(); s != nil {
		tsa = append(tsa, s.Certificate())
	}
	if s := ca.OCSPSigner(); s != nil {
		ocsp = append(ocsp, s.Certificate())
	}
	t := &serviceTrust{tsaCerts: tsa, responders: pki.PinResponders(ca.Certificate(), ocsp...)}
	if len(tsaTrustFiles) > 0 {
		if t.tsaRoots, _, err = pki.LoadTrustAnchors(tsaTrustFiles...); err != nil {
			return nil, fmt.Errorf("gateway: TSA trust anchors: %w", err)
		}
	}
	return t, nil
}

// serviceCerts returns the service certificate in setting and those it
// replaced.
func serviceCerts(ctx context.Context, st Store, setting string) ([]*x509.Certificate, error) {
	var ders [][]byte
	raw, err := st.Setting(ctx, setting)
	switch {
	case err == nil:
		var ss serviceState
		if err := json.Unmarshal(raw, &ss); err != nil {
			return nil, fmt.Errorf("gateway: stored %s: %w", setting, err)
		}
		ders = append(ders, ss.Cert)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	prev, err := previousServiceCerts(ctx, st, setting)
	if err != nil {
		return nil, err
	}
	return parseDERs(append(ders, prev...))
}

func previousServiceCerts(ctx context.Context, st Store, setting string) ([][]byte, error) {
	raw, err := st.Setting(ctx, setting+".previous")
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ders [][]byte
	if err := json.Unmarshal(raw, &ders); err != nil {
		return nil, fmt.Errorf("gateway: stored %s.previous: %w", setting, err)
	}
	return ders, nil
}

// keepPreviousService remembers a service certificate being replaced, so
// that timestamps and OCSP answers it signed (in PDFs' B-LT data) stay
// believed.
func keepPreviousService(ctx context.Context, st Store, setting string, der []byte) error {
	prev, err := previousServiceCerts(ctx, st, setting)
	if err != nil {
		return err
	}
	for _, d := range prev {
		if string(d) == string(der) {
			return nil
		}
	}
	_, err = st.PutSetting(ctx, setting+".previous", jsonBytes(append(prev, der)), false)
	return err
}

// ErrCertNotAllowed: a verified certificate that may not complete this
// session: issued by the gateway's CA to another tenant's user, under an
// anchor the operator did not allow the tenant, or not matching the user a
// registration is for. It wraps callback.ErrCertMismatch, so the callback
// answers SS_CERT_MISMATCH (422) and records nothing.
var ErrCertNotAllowed = fmt.Errorf("%w: certificate not allowed for this session", callback.ErrCertMismatch)

// tenantTrust says which certificates each tenant's sessions accept.
type tenantTrust struct {
	// gatewayRoot is the root of the gateway's CA: certificates under it
	// complete sessions only of the tenant whose user they were issued to.
	gatewayRoot *x509.Certificate
	// anchors maps an outside anchor's DER to the tenants allowed to use
	// it; a nil list means every tenant (--trust FILE).
	anchors map[string][]string
}

// addAnchors allows certs for tenants (none: every tenant). An anchor given
// for every tenant stays for every tenant.
func (t *tenantTrust) addAnchors(certs []*x509.Certificate, tenants []string) {
	if t.anchors == nil {
		t.anchors = map[string][]string{}
	}
	for _, c := range certs {
		k := string(c.Raw)
		old, had := t.anchors[k]
		switch {
		case len(tenants) == 0 || (had && old == nil):
			t.anchors[k] = nil
		default:
			t.anchors[k] = append(slices.Clone(old), tenants...)
		}
	}
}

// allow decides whether chain (leaf first, trust anchor last, as verified)
// may complete a session of tenantID for userID ("" when the session names
// no user). records are the tenant's certificate records with the leaf's
// serial (CertificatesBySerial).
func (t *tenantTrust) allow(tenantID, userID string, chain []*x509.Certificate, records []*Certificate) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: no chain", ErrCertNotAllowed)
	}
	leaf, anchor := chain[0], chain[len(chain)-1]
	if t.gatewayRoot != nil && anchor.Equal(t.gatewayRoot) {
		for _, r := range records {
			if r.Source != "issued" || r.TenantID != tenantID || string(r.DER) != string(leaf.Raw) {
				continue
			}
			if userID != "" && r.UserID != userID {
				return fmt.Errorf("%w: certificate %x was issued to another user of this tenant", ErrCertNotAllowed, leaf.SerialNumber)
			}
			return nil
		}
		return fmt.Errorf("%w: certificate %x (%q) is from the gateway's CA but was not issued to a user of this tenant",
			ErrCertNotAllowed, leaf.SerialNumber, leaf.Subject.CommonName)
	}
	tenants, ok := t.anchors[string(anchor.Raw)]
	if !ok {
		return fmt.Errorf("%w: trust anchor %q is not configured", ErrCertNotAllowed, anchor.Subject.CommonName)
	}
	if tenants != nil && !slices.Contains(tenants, tenantID) {
		return fmt.Errorf("%w: the operator does not allow this tenant certificates under %q", ErrCertNotAllowed, anchor.Subject.CommonName)
	}
	return nil
}

// registerMatches is the rule by which a register result binds its
// certificate to the session's user (PROTOCOL 1.1; docs/protocol.md): the
// portal pinned the certificate (certSha256 in POST /v1/register), or the
// certificate's subject common name equals the user's name ignoring case
// and runs of white space. A certificate the tenant already registered to
// another user is refused either way.
func registerMatches(leaf *x509.Certificate, user *User, pinned bool, records []*Certificate) error {
	for _, r := range records {
		if r.Source == "registered" && string(r.DER) == string(leaf.Raw) && r.UserID != user.ID {
			return fmt.Errorf("%w: certificate %x is already registered to another user of this tenant", ErrCertNotAllowed, leaf.SerialNumber)
		}
	}
	if pinned {
		return nil
	}
	if sameName(leaf.Subject.CommonName, user.Name) {
		return nil
	}
	return fmt.Errorf("%w: the certificate's subject %q does not name the user %q (pin the certificate with certSha256 to register it anyway)",
		ErrCertNotAllowed, leaf.Subject.CommonName, user.Name)
}

// sameName compares names ignoring case and runs of white space.
func sameName(a, b string) bool {
	a, b = strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " ")
	return a != "" && strings.EqualFold(a, b)
}

// pdfVerifyOptions are the options of every PDF validation the gateway
// makes: its anchors for signers; for timestamps only its own TSA and the
// operator's TSA anchors; for OCSP about its CA's certificates only its own
// responders.
func (s *Server) pdfVerifyOptions() pdf.VerifyOptions {
	o := pdf.VerifyOptions{Roots: s.roots, Intermediates: s.ca.ChainCerts(), Revocation: s.revocation, Now: s.cfg.Now, Limits: pdfLimits,
		TSACertificates: s.services.tsaCerts, TSARoots: s.services.tsaRoots, OCSPResponders: s.services.responders}
	if len(o.TSACertificates) == 0 && o.TSARoots == nil {
		// No TSA at all is trusted then, rather than Roots.
		o.TSARoots = x509.NewCertPool()
	}
	return o
}

// authorizeResult is the callback's Authorize for the gateway: the tenant
// rules of tenantTrust.allow and, for a registration naming a user,
// registerMatches. sess is the session the result is for.
func (s *Server) authorizeResult(ctx context.Context, sess *Session, p *callback.Pending, chain []*x509.Certificate) error {
	if sess == nil || sess.RequestID != p.RequestID {
		return fmt.Errorf("gateway: result for %s checked without its session", p.RequestID)
	}
	leaf := chain[0]
	var records []*Certificate
	issued := s.trust.gatewayRoot != nil && chain[len(chain)-1].Equal(s.trust.gatewayRoot)
	switch {
	case issued && sess.Action != "register":
		var err error
		if records, err = s.issuedCerts.records(ctx, s.store, sess.TenantID, leaf); err != nil {
			return err
		}
	case issued || sess.Action == "register":
		var err error
		if records, err = s.store.CertificatesBySerial(ctx, sess.TenantID, leaf.SerialNumber.Text(16)); err != nil {
			return err
		}
	}
	userID := sess.UserID
	if sess.Action != "register" && sess.CertSerial != "" {
		// A sign session bound to a registered certificate: that record's
		// user, not the issuance's, is who signs.
		userID = ""
	}
	if err := s.trust.allow(sess.TenantID, userID, chain, records); err != nil {
		return err
	}
	if sess.Action != "register" || sess.UserID == "" {
		return nil
	}
	u, err := s.store.User(ctx, sess.TenantID, sess.UserID)
	if err != nil {
		return err
	}
	return registerMatches(leaf, u, len(sess.CertSHA256) > 0, records)
}
