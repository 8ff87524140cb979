package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Names of the built-in profiles.
const (
	ProfileIndividualSigning = "individual-signing"
	ProfileDocumentSigner    = "document-signer"
	ProfileTSA               = "tsa"
	ProfileOCSP              = "ocsp"
)

// DevPolicyOID is the certificate policy put into signing certificates when
// Config.PolicyOID is not set. It is an example OID for development; a
// licensed CA sets the policy OID its CP/CPS assigns (for CCA India, the
// OID of the certificate class).
var DevPolicyOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 1, 3}

// Profile describes one kind of certificate as data: everything the CA puts
// into a certificate besides the subject and the public key.
type Profile struct {
	Name        string
	Description string
	// Validity is the certificate lifetime; it never extends past the
	// issuing CA's own notAfter.
	Validity time.Duration
	// KeyUsage is encoded critical (as crypto/x509 always does).
	KeyUsage x509.KeyUsage
	// ExtKeyUsage, if any, with ExtKeyUsageCritical marking the extension
	// critical (RFC 3161 requires this for timeStamping).
	ExtKeyUsage         []x509.ExtKeyUsage
	ExtKeyUsageCritical bool
	// Policies are the certificatePolicies OIDs.
	Policies []asn1.ObjectIdentifier
	// Revocation adds the AIA (OCSP and caIssuers) and CRL distribution
	// point URLs of the CA.
	Revocation bool
	// OCSPNoCheck adds id-pkix-ocsp-nocheck (for OCSP responder certificates).
	OCSPNoCheck bool
	// Keys restricts the subject's public key.
	Keys KeyRules
	// Subject says which subject fields are required and fixed.
	Subject SubjectRules
}

// KeyRules restricts the public keys a profile certifies.
type KeyRules struct {
	// MinRSABits is the smallest RSA modulus accepted; 0 refuses RSA.
	MinRSABits int
	// Curves are the accepted ECDSA curves by name ("P-256", "P-384");
	// empty refuses ECDSA.
	Curves []string
}

// SubjectRules restricts and completes subjects.
type SubjectRules struct {
	// Required names the Subject fields that must be non-empty:
	// "CN", "O", "OU", "ST", "L", "postalCode", "C", "email".
	Required []string
	// Defaults fill empty fields, for example O = "Personal" for
	// individuals as in the CCA guidelines.
	Defaults Subject
	// Country, if set, is the only country accepted (and the default).
	Country string
}

// Subject is the subject of a certificate as the caller verified it (from
// the user or organisation record, never taken from the CSR).
type Subject struct {
	CommonName         string `json:"cn,omitempty"`
	Organization       string `json:"o,omitempty"`
	OrganizationalUnit string `json:"ou,omitempty"`
	Locality           string `json:"l,omitempty"`
	State              string `json:"st,omitempty"`
	PostalCode         string `json:"postalCode,omitempty"`
	Country            string `json:"c,omitempty"`
	// Pseudonym (2.5.4.65) and SerialNumber (2.5.4.5, e.g. a hash of an
	// identity number as CCA profiles use) are optional.
	Pseudonym    string `json:"pseudonym,omitempty"`
	SerialNumber string `json:"serialNumber,omitempty"`
	// Email becomes an rfc822Name subject alternative name.
	Email string `json:"email,omitempty"`
}

var oidPseudonym = asn1.ObjectIdentifier{2, 5, 4, 65}

func (s Subject) field(name string) string {
	switch name {
	case "CN":
		return s.CommonName
	case "O":
		return s.Organization
	case "OU":
		return s.OrganizationalUnit
	case "L":
		return s.Locality
	case "ST":
		return s.State
	case "postalCode":
		return s.PostalCode
	case "C":
		return s.Country
	case "email":
		return s.Email
	case "pseudonym":
		return s.Pseudonym
	case "serialNumber":
		return s.SerialNumber
	}
	return ""
}

// Name returns the subject as a pkix.Name.
func (s Subject) Name() pkix.Name {
	n := pkix.Name{CommonName: s.CommonName, SerialNumber: s.SerialNumber}
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = append(*dst, v)
		}
	}
	add(&n.Organization, s.Organization)
	add(&n.OrganizationalUnit, s.OrganizationalUnit)
	add(&n.Locality, s.Locality)
	add(&n.Province, s.State)
	add(&n.PostalCode, s.PostalCode)
	add(&n.Country, s.Country)
	if s.Pseudonym != "" {
		n.ExtraNames = append(n.ExtraNames, pkix.AttributeTypeAndValue{Type: oidPseudonym, Value: s.Pseudonym})
	}
	return n
}

// apply fills defaults and checks the subject against the rules.
func (r SubjectRules) apply(s Subject) (Subject, error) {
	fill := func(dst *string, def string) {
		if *dst == "" {
			*dst = def
		}
	}
	d := r.Defaults
	fill(&s.Organization, d.Organization)
	fill(&s.OrganizationalUnit, d.OrganizationalUnit)
	fill(&s.Locality, d.Locality)
	fill(&s.State, d.State)
	fill(&s.PostalCode, d.PostalCode)
	fill(&s.Country, d.Country)
	if r.Country != "" {
		fill(&s.Country, r.Country)
		if !strings.EqualFold(s.Country, r.Country) {
			return s, fmt.Errorf("%w: country %q, the profile requires %q", ErrBadSubject, s.Country, r.Country)
		}
		s.Country = r.Country
	}
	for _, f := range r.Required {
		if strings.TrimSpace(s.field(f)) == "" {
			return s, fmt.Errorf("%w: %s is required", ErrBadSubject, f)
		}
	}
	if s.Country != "" && len(s.Country) != 2 {
		return s, fmt.Errorf("%w: country %q is not a two-letter code", ErrBadSubject, s.Country)
	}
	for _, f := range []string{"CN", "O", "OU", "L", "ST", "postalCode", "pseudonym", "serialNumber", "email"} {
		v := s.field(f)
		if len(v) > 128 || strings.ContainsAny(v, "\x00\r\n") {
			return s, fmt.Errorf("%w: %s is too long or has control characters", ErrBadSubject, f)
		}
	}
	return s, nil
}

// check enforces the key rules on pub.
func (r KeyRules) check(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if r.MinRSABits == 0 {
			return fmt.Errorf("%w: RSA keys are not accepted", ErrWeakKey)
		}
		if n := k.N.BitLen(); n < r.MinRSABits || n > 8192 {
			return fmt.Errorf("%w: RSA-%d, need at least %d bits", ErrWeakKey, n, r.MinRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("%w: RSA public exponent %d", ErrWeakKey, k.E)
		}
		return nil
	case *ecdsa.PublicKey:
		name := k.Curve.Params().Name
		if !slices.Contains(r.Curves, name) {
			return fmt.Errorf("%w: ECDSA curve %s, accepted: %s", ErrWeakKey, name, strings.Join(r.Curves, ", "))
		}
		return nil
	}
	return fmt.Errorf("%w: key type %T", ErrWeakKey, pub)
}

// DefaultKeyRules accept RSA of 2048 bits and more, ECDSA P-256 and P-384.
var defaultKeyRules = KeyRules{MinRSABits: 2048, Curves: []string{"P-256", "P-384"}}

// DefaultProfiles returns the built-in profiles, with policyOID (nil means
// DevPolicyOID) in the signing profiles' certificatePolicies:
//
//   - "individual-signing": a Class 3 style individual signing certificate
//     after India's CCA interoperability guidelines: CN, ST and postal code
//     required, O defaults to "Personal", C = IN; keyUsage digitalSignature
//     and nonRepudiation (critical); policy, AIA, CRL DP; 2 years.
//   - "document-signer": an organisation's document signing certificate:
//     CN and O required; same key usage; 2 years.
//   - "tsa": a time-stamping unit: EKU timeStamping (critical); 5 years.
//   - "ocsp": a delegated OCSP responder: EKU OCSPSigning, ocsp-nocheck;
//     90 days.
func DefaultProfiles(policyOID asn1.ObjectIdentifier) map[string]*Profile {
	if policyOID == nil {
		policyOID = DevPolicyOID
	}
	signKU := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	return map[string]*Profile{
		ProfileIndividualSigning: {
			Name:        ProfileIndividualSigning,
			Description: "individual signing certificate (CCA Class 3 style)",
			Validity:    2 * 365 * 24 * time.Hour,
			KeyUsage:    signKU,
			Policies:    []asn1.ObjectIdentifier{policyOID},
			Revocation:  true,
			Keys:        defaultKeyRules,
			Subject: SubjectRules{
				Required: []string{"CN", "ST", "postalCode", "C"},
				Defaults: Subject{Organization: "Personal"},
				Country:  "IN",
			},
		},
		ProfileDocumentSigner: {
			Name:        ProfileDocumentSigner,
			Description: "organisation document signer",
			Validity:    2 * 365 * 24 * time.Hour,
			KeyUsage:    signKU,
			Policies:    []asn1.ObjectIdentifier{policyOID},
			Revocation:  true,
			Keys:        defaultKeyRules,
			Subject:     SubjectRules{Required: []string{"CN", "O", "C"}, Country: "IN"},
		},
		ProfileTSA: {
			Name:                ProfileTSA,
			Description:         "time-stamping authority (RFC 3161)",
			Validity:            5 * 365 * 24 * time.Hour,
			KeyUsage:            signKU,
			ExtKeyUsage:         []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
			ExtKeyUsageCritical: true,
			Policies:            []asn1.ObjectIdentifier{policyOID},
			Revocation:          true,
			Keys:                defaultKeyRules,
			Subject:             SubjectRules{Required: []string{"CN"}},
		},
		ProfileOCSP: {
			Name:        ProfileOCSP,
			Description: "delegated OCSP responder (RFC 6960)",
			Validity:    90 * 24 * time.Hour,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
			OCSPNoCheck: true,
			Keys:        defaultKeyRules,
			Subject:     SubjectRules{Required: []string{"CN"}},
		},
	}
}

// ParseOID parses a dotted-decimal object identifier such as "2.16.356.100.2".
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("pki: bad OID %q", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("pki: bad OID %q", s)
		}
		oid[i] = n
	}
	return oid, nil
}
