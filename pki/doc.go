// Package pki is a certificate authority for DSC-style signing certificates
// and the client side of certificate validation.
//
// The CA side issues certificates from profiles (individual Class 3 signing,
// organisation document signer, TSA, OCSP responder), revokes them, and
// serves CRLs, OCSP (RFC 6960) and RFC 3161 timestamps as http.Handlers. The
// client side builds chains to configured trust anchors (for example the CCA
// India roots) and checks validity, key usage and revocation.
package pki
