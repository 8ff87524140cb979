package pki

import "crypto"

// CheckSubject reports whether s meets the profile's subject rules, as
// issuance applies them (defaults filled in first), so that a caller can
// refuse bad input before it spends anything on an issuance. Errors wrap
// ErrBadSubject.
func (p *Profile) CheckSubject(s Subject) error {
	_, err := p.Subject.apply(s)
	return err
}

// CheckKey reports whether the profile certifies pub. Errors wrap
// ErrWeakKey.
func (p *Profile) CheckKey(pub crypto.PublicKey) error { return p.Keys.check(pub) }
