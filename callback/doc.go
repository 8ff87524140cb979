// Package callback encodes, decodes, delivers and verifies ss_result, the
// result a signing app returns to a portal (section 2 of the SecureSign
// protocol).
//
// The app side builds a result from a signer outcome and delivers it; the
// portal side runs every check of the protocol with a [Verifier]: pending
// request, single use, certificate, chain, revocation and signatures.
// It is also the one place where errors from every package are mapped to
// SS_* codes.
package callback
