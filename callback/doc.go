// Package callback encodes, decodes, delivers and verifies ss_result, the
// result a signing app returns to a portal (section 2 of the SecureSign
// protocol, docs/protocol.md).
//
// # Signing app
//
// [NewSuccess] builds a result from the signatures, certificate, chain and
// algorithm; [NewFailure] builds one from an error, with its SS_* code from
// [CodeOf] and pinTriesLeft from a *signer.PINError. [Deliver] POSTs it
// (retries with exponential backoff on network errors and 5xx for two
// minutes; 3xx and 4xx are final); [RedirectURL] makes the mobile GET URL
// and refuses results over 8000 characters, which must be POSTed.
//
// # Portal
//
// A [Verifier] runs every check of docs/protocol.md §2.2 on a delivered result:
// size and encoding ([Decode] is strict: both base64 alphabets, padded or
// not, valid UTF-8 JSON with no duplicated keys and exactly-matched names);
// a pending requestId issued by this consumer (its [Store]) and not expired;
// single use; and for a success: one signature per issued digest, a
// certificate that parses, is within its validity, has digitalSignature or
// nonRepudiation, matches certSerial/certSha256/the registered certificate,
// chains to Roots (pki.VerifyChain, with revocation when Revocation is set),
// and whose key verifies every signature over exactly the issued digest
// (ECDSA raw r||s is accepted and normalised to DER). Register results are
// checked over deeplink.RegisterDigest.
//
// The outcome is typed ([Outcome].Kind): Accepted (recorded), Duplicate (the
// same result again, however encoded: the recorded outcome, nothing
// changes), Conflict (a different result for a completed request, HTTP 409;
// a cancel after a success is a Conflict too, and the success stands), or
// Rejected (Code and Err say why; nothing changes). The first valid success
// wins: [Store.Complete] is an atomic compare-and-set, so of two concurrent
// deliveries exactly one is accepted. A failure result (a cancel, a wrong
// PIN) is recorded but does not complete the request (PROTOCOL 1.1 §3):
// until the request expires a verified success still completes it, so
// whoever sees a link cannot block it with a forged cancel; the same
// failure again is a Duplicate, another failure a Conflict, and a success
// is never replaced. [Verifier].Authorize lets a consumer add its own rule
// about which certificate may complete which request (the gateway keeps
// its tenants apart with it).
//
// # Error codes
//
// [CodeOf] is the one place where errors of every SecureSign package are
// mapped to SS_* codes; its documentation lists the mapping.
package callback
