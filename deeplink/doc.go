// Package deeplink builds, signs, parses and checks securesign:// links,
// section 1 of the SecureSign protocol (docs/protocol.md).
//
// A portal builds a [Request], signs it with an Ed25519 [SigningKey] and
// sends the user to the link ([Build]; [QRPNG] and [QRSVG] for
// cross-device signing). It publishes its [KeySet] as a JWKS at
// {origin}/.well-known/securesign-keys.json; several kids allow rotation.
//
// A signing app parses the link with [Parse], which is strict: the link is
// printable ASCII of at most 2048 bytes, without fragment; values are
// percent-decoded exactly once ("+" is a plus); a parameter that may appear
// once appears once (hashBase64 repeats, up to 50 times, for a batch);
// requestId is 8–64 of [A-Za-z0-9_-]; each digest has the size of hashAlgo;
// callbackUrl is https (http only to 127.0.0.1, ::1, localhost), has no
// user info, no fragment, an ASCII host (IDNs as xn--), and lies on origin;
// origin is canonical; exp is in the future and at most 15 minutes (plus a
// minute of clock skew) ahead; doc holds at most 200 characters and no
// control or bidirectional formatting characters; org (the organisation
// asking, PROTOCOL 1.1 §1) at most 80 printable characters ([CheckOrg]),
// to be shown only when sig verifies. Each rule has its own
// sentinel error (ErrDuplicateParam, ErrCallbackURL, ErrExpired, …), wrapped
// in an [*Error] naming the parameter; callback.CodeOf maps them to SS_*
// codes. Unknown parameters are kept in Request.Extra and covered by sig.
//
// Links as existing integrations send them (no origin, exp or sig) parse as
// Legacy: Origin is then derived from callbackUrl, and the app applies its
// policy (an allowlist of callback origins) before using them.
//
// The app then verifies sig with [Link.Verify] against configured keys, or
// with a [Fetcher] that gets the portal's JWKS (https only, size limit,
// timeout, cache, refetch on an unknown kid). The canonical form sig covers
// sorts parameters by name and value (decoded bytes), so another
// percent-encoding of the same link still verifies, and the order of a
// batch's digests is bound by the result instead (signature i over digest
// i). testdata/vectors.json holds test vectors for other implementations;
// testdata/README.md describes them.
//
// For register links the app signs [RegisterDigest], never a digest it was
// handed; portal and app both compute it with that one function.
package deeplink
