// Package signer gives access to signing keys, on PKCS#11 tokens (the DSC
// USB tokens Indian users carry, HSMs, SoftHSM) and in files (PKCS#12, PEM),
// behind one interface: a [crypto.Signer] that also knows its certificate
// chain. Every later package (pdf, pki, callback, the adapters) takes a
// [Signer] and never cares where the key lives.
//
// # Files
//
// [LoadPKCS12] reads .p12/.pfx files with modern (PBES2, AES) and legacy
// (3DES, RC2) encryption; [LoadPEM] reads PKCS#8, PKCS#1 and SEC1 keys.
//
// # Tokens
//
// [OpenModule] loads a vendor's PKCS#11 library ([KnownModules] and
// [FindModules] know where the common ones live). [Module.Tokens] lists
// slots with the token's PIN state, [Module.Certificates] lists
// certificates without a PIN, and [Module.Signer] logs in and returns a
// Signer (close it when done). Tokens are selected by label or serial,
// never by slot number: slot numbers move between runs and machines.
//
// The package speaks PKCS#11 through github.com/miekg/pkcs11 directly:
// RSA PKCS#1 v1.5 as CKM_RSA_PKCS over the DigestInfo, RSA-PSS as
// CKM_RSA_PKCS_PSS with salt = hash length, ECDSA as CKM_ECDSA over the
// digest (SoftHSM and many tokens lack CKM_ECDSA_SHA256) with the raw r||s
// turned into ASN.1 DER, and a context-specific login after C_SignInit for
// keys with CKA_ALWAYS_AUTHENTICATE.
//
// # Guarantees
//
// Every signature, from a token or a file, is verified against the
// certificate's public key before it is returned ([ErrSignatureInvalid]
// otherwise). A wrong PIN is always reported as a [*PINError] wrapping
// [ErrPINIncorrect], also when the process is already logged in to the
// token (where C_Login answers CKR_USER_ALREADY_LOGGED_IN whatever the PIN).
// Errors are testable with errors.Is: [ErrPINIncorrect], [ErrPINLocked],
// [ErrTokenNotFound], [ErrKeyNotFound], [ErrCertNotFound],
// [ErrUnsupportedAlgorithm], [ErrSignatureInvalid]. Signers are safe for
// concurrent use; token Signers keep a small pool of PKCS#11 sessions.
package signer
