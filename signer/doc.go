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
// # Keys generated on a token
//
// For server-held keys (an HSM, SoftHSM in tests) [Module.GenerateKey]
// makes an RSA-2048/3072/4096 or ECDSA P-256/P-384 key pair on the token,
// private, sensitive and non-extractable, under a random CKA_ID, and
// returns the public key for the CA. [Module.KeySigner] signs with that key
// by ID before a certificate exists (a CSR, a CA's own key);
// [Module.ImportCertificate] then stores the issued certificate next to the
// key, after which [Module.Signer] finds both by the certificate's serial.
// These share the module table and login bookkeeping of Signers, so a
// process never initializes a module twice (package pki's PKCS11KeyStore
// is built on them; the PKCS#11 library stays behind this package).
//
// The package speaks PKCS#11 through github.com/miekg/pkcs11 directly:
// RSA PKCS#1 v1.5 as CKM_RSA_PKCS over the DigestInfo, RSA-PSS as
// CKM_RSA_PKCS_PSS with salt = hash length, ECDSA as CKM_ECDSA over the
// digest (SoftHSM and many tokens lack CKM_ECDSA_SHA256) with the raw r||s
// turned into ASN.1 DER, and a context-specific login after C_SignInit for
// keys with CKA_ALWAYS_AUTHENTICATE.
//
// # Builds without cgo
//
// Loading a vendor's module needs cgo, so release binaries are built with
// CGO_ENABLED=1 on each OS. The package also compiles without cgo (cross
// builds, go vet for other OSes, pure-Go users) with the same API: there
// [OpenModule] and every [Module] method return an error wrapping
// [ErrPKCS11Unavailable] (which wraps [ErrTokenNotFound]); files still work.
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
