package gateway

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

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
func loadServiceTrust(ctx context.Context, st Store, issuing *x509.Certificate, tsaTrustFiles []string) (*serviceTrust, error) {
	tsa, err := serviceCerts(ctx, st, "ca.tsa")
	if err != nil {
		return nil, err
	}
	ocsp, err := serviceCerts(ctx, st, "ca.ocsp")
	if err != nil {
		return nil, err
	}
	t := &serviceTrust{tsaCerts: tsa, responders: pki.PinResponders(issuing, ocsp...)}
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
