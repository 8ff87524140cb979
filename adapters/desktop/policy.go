package desktop

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/securesign/securesign/deeplink/sigpkg"
)

// Policy is what the Desktop Software accepts. It is read from
// <user config dir>/securesign/desktop.json (see [DefaultConfigPath]) and
// extended by command-line flags.
//
//	{
//	  "allowedOrigins": ["https://portal.example.in"],
//	  "packageOrigins": ["https://sign.gateway.example.in"],
//	  "requirePackage": true,
//	  "trustedKeyFiles": ["/etc/securesign/portal-keys.json"],
//	  "unsignedLinkOrigins": [],
//	  "fetchKeys": true,
//	  "modules": ["/usr/lib/WatchData/ProxKey/lib/libwdpkcs_SignatureP11.so"]
//	}
type Policy struct {
	// AllowedOrigins are the portal origins (scheme://host[:port]) whose
	// links are handled at all; a link from any other origin is refused
	// with SS_DOMAIN_NOT_ALLOWED and nothing is sent to it.
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
	// PackageOrigins are origins, besides the link's own, from which a
	// link's signing package and its PDFs may be fetched (protocol 1.2
	// §6.4): the gateway that serves the packages of portals' links
	// (§6.6). https, or http to a loopback host; a link's own origin needs
	// no entry. Not an allowlist of portals: a link's origin must still be
	// in AllowedOrigins. The mobile app's --package-origin.
	PackageOrigins []string `json:"packageOrigins,omitempty"`
	// RequirePackage refuses a sign link that names no signing package
	// (SS_LINK_INVALID, before the PIN): the user signs only documents
	// this app has shown and checked, never bare digests. For
	// installations whose portals all send packages (protocol 1.2 §6).
	RequirePackage bool `json:"requirePackage,omitempty"`
	// TrustedKeyFiles are JWKS files (the format of
	// /.well-known/securesign-keys.json) with link-signing keys.
	TrustedKeyFiles []string `json:"trustedKeyFiles,omitempty"`
	// UnsignedLinkOrigins are the allowed origins whose unsigned (legacy)
	// links are accepted, shown as unverified: an explicit opt-in per
	// portal that cannot sign its links yet. Every other link must be
	// signed.
	UnsignedLinkOrigins []string `json:"unsignedLinkOrigins,omitempty"`
	// RequireSignedLinks refuses unsigned links even from the origins of
	// UnsignedLinkOrigins.
	RequireSignedLinks bool `json:"requireSignedLinks,omitempty"`
	// FetchKeys, when true or absent, fetches an allowed origin's
	// /.well-known/securesign-keys.json to verify a signed link whose kid
	// no trusted key file has.
	FetchKeys *bool `json:"fetchKeys,omitempty"`
	// Modules are PKCS#11 module paths to try besides the known ones of
	// this OS (signer.FindModules).
	Modules []string `json:"modules,omitempty"`
	// PageRenderer chooses how the pages of a signing package's documents
	// are shown: "" draws them with pdftoppm (poppler-utils) when it is on
	// PATH, else leaves them to the browser's own PDF viewer; "browser"
	// always uses the browser's viewer; any other value is the path of
	// pdftoppm.
	PageRenderer string `json:"pageRenderer,omitempty"`
}

// DefaultConfigPath returns <os.UserConfigDir>/securesign/desktop.json.
func DefaultConfigPath() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("desktop: no config directory: %w", err)
	}
	return filepath.Join(d, "securesign", "desktop.json"), nil
}

// LoadPolicy reads a policy file. A missing file is an empty policy (every
// link refused until origins are allowed); unknown fields are errors, so a
// typo does not silently weaken the policy.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &Policy{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("desktop: reading policy: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("desktop: policy %s: %w", path, err)
	}
	for _, o := range p.AllowedOrigins {
		if _, err := CanonicalOrigin(o); err != nil {
			return nil, fmt.Errorf("desktop: policy %s: %w", path, err)
		}
	}
	if err := p.checkPackageOrigins(); err != nil {
		return nil, fmt.Errorf("desktop: policy %s: %w", path, err)
	}
	return &p, nil
}

// checkPackageOrigins refuses a package origin that is not https (http to
// a loopback host) or not an origin.
func (p *Policy) checkPackageOrigins() error {
	for _, o := range p.PackageOrigins {
		if _, err := sigpkg.ParseOrigin(o); err != nil {
			return fmt.Errorf("packageOrigins: %w", err)
		}
	}
	return nil
}

// packageOrigins returns PackageOrigins in canonical form, skipping any
// that is not valid (LoadPolicy refuses those).
func (p *Policy) packageOrigins() []string {
	var out []string
	for _, o := range p.PackageOrigins {
		if c, err := sigpkg.ParseOrigin(o); err == nil && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Allows reports whether origin is on the allowlist.
func (p *Policy) Allows(origin string) bool {
	o, err := CanonicalOrigin(origin)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(p.AllowedOrigins, func(a string) bool {
		ca, err := CanonicalOrigin(a)
		return err == nil && ca == o
	})
}

// allowsUnsigned reports whether origin opted in for unsigned links.
func (p *Policy) allowsUnsigned(origin string) bool {
	o, err := CanonicalOrigin(origin)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(p.UnsignedLinkOrigins, func(a string) bool {
		ca, err := CanonicalOrigin(a)
		return err == nil && ca == o
	})
}

func (p *Policy) fetchKeys() bool { return p.FetchKeys == nil || *p.FetchKeys }

// CanonicalOrigin returns s as scheme://host[:port]: lower case, no default
// port, no path. Only http and https origins exist for portals.
func CanonicalOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("desktop: %q is not an origin (scheme://host[:port])", s)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}
