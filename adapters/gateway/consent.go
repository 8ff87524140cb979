package gateway

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// A Consent is what a user approves with a sign code (PROTOCOL 1.1 §6):
// one certificate and exactly these digests or these documents. The code
// that carries it signs that operation and nothing else.
//
// The rules live here, apart from HTTP: [NewConsent] checks what a portal
// asks the user to approve, [Consent.Summary] is what the user is told,
// and [Consent.Check] compares an operation with what was approved.
type Consent struct {
	// CertificateID is the gateway's id ("crt_…") of the certificate that
	// will sign.
	CertificateID string `json:"certificateId"`
	// HashAlgo and Hashes: the operation signs exactly these digests.
	HashAlgo string   `json:"hashAlgo,omitempty"`
	Hashes   [][]byte `json:"hashes,omitempty"`
	// Labels name the documents behind Hashes for the user (CSC OAuth
	// documentDigests); they are shown, not compared.
	Labels []string `json:"labels,omitempty"`
	// Documents: the operation signs exactly these PDFs, each named by the
	// SHA-256 of its bytes as uploaded.
	Documents []ConsentDocument `json:"documents,omitempty"`
	// AnyDigests marks a code sent through CSC credentials/sendOTP, whose
	// client names the digests only afterwards at credentials/authorize:
	// the code is good for one authorization with CertificateID, and the
	// SAD it yields is bound to the digests given there.
	AnyDigests bool `json:"anyDigests,omitempty"`
}

// ConsentDocument is one document of a consent.
type ConsentDocument struct {
	SHA256 []byte `json:"sha256"`
	Name   string `json:"name"`
}

// Limits of a consent.
const (
	maxConsentItems    = 50
	maxConsentNameRune = 120
)

// ErrOTPMismatch is returned when a code is used for an operation other
// than the one it was issued for; the code is spent.
var ErrOTPMismatch = errors.New("gateway: one-time code issued for another operation")

// ConsentError says which field of a consent request is missing or wrong.
type ConsentError struct {
	Field string // JSON field name
	Msg   string
}

func (e *ConsentError) Error() string { return e.Field + ": " + e.Msg }

// NewConsent checks a sign consent as a portal asks for it: a certificate
// and either digests (with their algorithm) or documents, never both.
func NewConsent(certificateID, hashAlgo string, hashes [][]byte, docs []ConsentDocument) (*Consent, error) {
	if certificateID == "" {
		return nil, &ConsentError{"certificateId", "a sign code names the certificate that will sign (protocol 1.1 §6)"}
	}
	switch {
	case len(hashes) == 0 && len(docs) == 0:
		return nil, &ConsentError{"hashes", "a sign code names what will be signed: hashes (with hashAlgo) or documents [{sha256, name}] (protocol 1.1 §6)"}
	case len(hashes) > 0 && len(docs) > 0:
		return nil, &ConsentError{"documents", "give hashes or documents, not both"}
	case len(hashes) > maxConsentItems:
		return nil, &ConsentError{"hashes", fmt.Sprintf("at most %d digests", maxConsentItems)}
	case len(docs) > maxConsentItems:
		return nil, &ConsentError{"documents", fmt.Sprintf("at most %d documents", maxConsentItems)}
	}
	c := &Consent{CertificateID: certificateID}
	if len(hashes) > 0 {
		if hashAlgo == "" {
			return nil, &ConsentError{"hashAlgo", "required with hashes (SHA256, SHA384 or SHA512)"}
		}
		h, ok := hashAlgos[hashAlgo]
		if !ok {
			return nil, &ConsentError{"hashAlgo", "must be SHA256, SHA384 or SHA512"}
		}
		for i, d := range hashes {
			if len(d) != h.Size() {
				return nil, &ConsentError{"hashes", fmt.Sprintf("hash %d has %d bytes, %s needs %d", i+1, len(d), hashAlgo, h.Size())}
			}
		}
		c.HashAlgo, c.Hashes = hashAlgo, hashes
		return c, nil
	}
	if hashAlgo != "" {
		return nil, &ConsentError{"hashAlgo", "documents are named by SHA-256; hashAlgo goes with hashes only"}
	}
	for i, d := range docs {
		if len(d.SHA256) != crypto.SHA256.Size() {
			return nil, &ConsentError{"documents", fmt.Sprintf("document %d: sha256 must be 64 hex characters (SHA-256 of the PDF as it will be uploaded)", i+1)}
		}
		name := strings.TrimSpace(d.Name)
		if name == "" {
			return nil, &ConsentError{"documents", fmt.Sprintf("document %d: name is required (the user is told it)", i+1)}
		}
		if !displayable(name) {
			return nil, &ConsentError{"documents", fmt.Sprintf("document %d: name must be at most %d printable characters", i+1, maxConsentNameRune)}
		}
		docs[i].Name = name
	}
	c.Documents = docs
	return c, nil
}

// displayable reports whether s can be shown to a user as is: short,
// printable, no control, bidi or format characters (which could hide or
// reorder what the user reads).
func displayable(s string) bool {
	n := 0
	for _, r := range s {
		n++
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return n <= maxConsentNameRune
}

// fingerprint is the short form of a digest the user is shown.
func fingerprint(d []byte) string {
	if len(d) > 4 {
		d = d[:4]
	}
	return hex.EncodeToString(d)
}

// Summary is what the user is told they approve: the documents by name (or
// the number of digests) with the first 8 hex characters of each, and the
// certificate. cert describes the certificate for people (its holder's
// name and serial).
func (c *Consent) Summary(cert string) string {
	var b strings.Builder
	switch {
	case c.AnyDigests:
		b.WriteString("Authorise one signing request with certificate " + cert + " (the client names the documents after this code)")
		return b.String()
	case len(c.Documents) > 0:
		b.WriteString("Sign " + plural(len(c.Documents), "document") + " with certificate " + cert + ": ")
		for i, d := range c.Documents {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(d.Name) + " (" + fingerprint(d.SHA256) + ")")
		}
	case len(c.Labels) == len(c.Hashes):
		b.WriteString("Sign " + plural(len(c.Hashes), "document") + " with certificate " + cert + ": ")
		for i, d := range c.Hashes {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(c.Labels[i]) + " (" + fingerprint(d) + ")")
		}
	default:
		b.WriteString("Sign " + plural(len(c.Hashes), c.HashAlgo+" digest") + " with certificate " + cert + ": ")
		for i, d := range c.Hashes {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(fingerprint(d))
		}
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Check reports whether op is the operation c approved: the same
// certificate and the same digests (same algorithm) or the same documents,
// as many and in any order. Anything else wraps ErrOTPMismatch, naming
// what differs.
func (c *Consent) Check(op *Consent) error {
	if c == nil {
		return fmt.Errorf("%w: the code names no operation", ErrOTPMismatch)
	}
	if op.CertificateID != c.CertificateID {
		return fmt.Errorf("%w: the code was issued for another certificate", ErrOTPMismatch)
	}
	if c.AnyDigests != op.AnyDigests {
		return fmt.Errorf("%w: the code was issued for another kind of operation", ErrOTPMismatch)
	}
	if c.AnyDigests {
		return nil
	}
	switch {
	case len(c.Documents) > 0:
		if len(op.Documents) == 0 {
			return fmt.Errorf("%w: the code was issued for documents, not digests", ErrOTPMismatch)
		}
		if !sameDigestSet(docDigests(c.Documents), docDigests(op.Documents)) {
			return fmt.Errorf("%w: the code was issued for %s, not these", ErrOTPMismatch, plural(len(c.Documents), "other document"))
		}
	default:
		if len(op.Hashes) == 0 {
			return fmt.Errorf("%w: the code was issued for digests, not documents", ErrOTPMismatch)
		}
		if op.HashAlgo != c.HashAlgo {
			return fmt.Errorf("%w: the code was issued for %s digests", ErrOTPMismatch, c.HashAlgo)
		}
		if !sameDigestSet(c.Hashes, op.Hashes) {
			return fmt.Errorf("%w: the code was issued for %s, not these", ErrOTPMismatch, plural(len(c.Hashes), "other digest"))
		}
	}
	return nil
}

func docDigests(docs []ConsentDocument) [][]byte {
	out := make([][]byte, len(docs))
	for i, d := range docs {
		out[i] = d.SHA256
	}
	return out
}

// sameDigestSet reports whether a and b hold the same digests, as many
// times each, in any order.
func sameDigestSet(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	sa, sb := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(sa, bytes.Compare)
	slices.SortFunc(sb, bytes.Compare)
	for i := range sa {
		if !bytes.Equal(sa[i], sb[i]) {
			return false
		}
	}
	return true
}
