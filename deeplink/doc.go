// Package deeplink builds, signs, parses and checks securesign:// links,
// section 1 of the SecureSign protocol.
//
// A portal builds a [Request], signs it with an Ed25519 key and sends the user
// to the link; a signing app parses the link strictly, checks its expiry and
// signature against the portal's published keys, and learns exactly which
// digests to sign.
package deeplink
