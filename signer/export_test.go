//go:build cgo

package signer

// Hooks for the external tests.

// AlwaysAuthenticate reports whether a token Signer's key has
// CKA_ALWAYS_AUTHENTICATE set.
func AlwaysAuthenticate(s Signer) bool { return s.(*tokenSigner).alwaysAuth }

// SkipContextLogin makes a token Signer skip the context-specific login, to
// show that the token demands it.
func SkipContextLogin(s Signer) { s.(*tokenSigner).alwaysAuth = false }
