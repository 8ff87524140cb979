// Package signer gives access to signing keys, on PKCS#11 tokens (the DSC
// USB tokens Indian users carry, HSMs, SoftHSM) and in files (PKCS#12, PEM),
// behind one interface: a [crypto.Signer] that also knows its certificate
// chain. Every later package (pdf, pki, callback, the adapters) takes a
// [Signer] and never cares where the key lives.
//
// Tokens are selected by label or serial, never by slot number: slot numbers
// move between runs and machines.
package signer
