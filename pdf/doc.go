// Package pdf makes and checks PAdES signatures in PDF documents.
//
// It signs in one go with any [signer.Signer] (levels B-B, B-T, B-LT, B-LTA),
// or in two phases for keys that live on a user's token far away: [Prepare]
// returns the digest to sign and a small serialisable state, [Finish] embeds
// the signature. Signatures are appended as incremental updates, so earlier
// signatures and form fields stay intact. Validation reports integrity,
// coverage, changes after signing, chain, revocation and an ETSI indication.
//
// # Signing
//
// [SignFile] and the streaming [Sign] read the input once through an
// io.ReaderAt: it is copied to the output and hashed in the same pass, and
// the new revision (signature dictionary, widget, the form with all its
// existing fields, the catalog, a cross-reference table or stream matching
// the input's) is built in memory and appended. Memory does not grow with
// the document. The CMS is SubFilter ETSI.CAdES.detached with the
// content-type, message-digest and ESS signing-certificate-v2 signed
// attributes; the signing time is the dictionary's /M. /Contents is sized
// from the real key, chain and (from B-T on) room for a timestamp token, so
// a document is never signed twice.
//
// Levels: B-T adds a signature timestamp from [SignOptions.Timestamper]
// ([pki.TSAClient] fits); B-LT appends a DSS with certificates, OCSP
// responses and CRLs for the signer's and the TSA's chains from
// [SignOptions.Revocation] ([pki.RevocationChecker] fits); B-LTA adds a
// document timestamp. [Extend] raises an already signed PDF to B-LT or
// B-LTA. The input's structure (xref chain, catalog, form, page tree) is
// read with the same bounded parser as validation (pdf/internal/syntax),
// within [SignOptions.Limits]: a hostile input ends with a [*LimitError].
// Encrypted documents (the standard security handler: RC4 40/128,
// AES-128, AES-256) are signed with their own key: the appended objects'
// strings and streams are encrypted, the signature's /Contents is not, and
// /Encrypt and /ID stay, so permissions and passwords are unchanged. Those
// with an empty user password (owner password only) need nothing; others
// need [SignOptions.Password], else [ErrPassword]. A document whose
// cross-reference data readers would rebuild (wrong offsets, broken /Prev,
// missing xref) is, if it carries no signature, rewritten once as a clean
// full save and then signed ([SignInfo.Repaired]); one that carries a
// signature is refused with [ErrSignedDamaged]. Otherwise unreadable
// structure gives [ErrMalformed].
//
// # Two-phase signing
//
// [Prepare] (or [PrepareFile]) writes the prepared document, with an empty
// signature, and returns a [PreparedSignature]: Digest is the hash of the
// DER signed attributes, which is what the token signs (the deep link's
// hashBase64); MarshalBinary gives a small versioned state (offsets, signed
// attributes, certificates; no document bytes) to keep until the signature
// comes back, in this process or another. [Finish] (or [FinishFile])
// verifies the signature against the certificate ([ErrSignatureMismatch],
// nothing written), fetches the timestamp and validation data, and then
// patches the prepared file in place and appends the B-LT/B-LTA revisions.
// [PrepareBatch] and [FinishBatch] do the same for many documents of one
// signer; FinishBatch checks every signature before touching any file.
//
// # Validation
//
// [Verify] (or [VerifyFile]) checks every signature and document timestamp
// and returns a [Report] that marshals to the protocol's validation-report
// JSON. It reads the file through an io.ReaderAt with a bounded,
// revision-aware parser (pdf/internal/syntax, shared with signing) and its
// own CMS verifier, independent of the signing code; [Limits] caps time, memory, nesting,
// xref size and decompression, and exceeding one gives a [*LimitError].
// Damaged files are refused with [ErrMalformed] (never repaired: a repair
// could change what a signature appears to cover); encrypted ones are
// decrypted as they are read ([VerifyOptions.Password] for a user
// password, else [ErrPassword]). Per signature it reports integrity, coverage (the
// ByteRange must be [0 b c d] around exactly its /Contents and end at a
// revision's %%EOF), what changed after signing, found by comparing the
// signed revision with the last one object by object (new signatures,
// document timestamps and DSS data are allowed; form filling and
// annotations only under a certification signature's DocMDP; anything else,
// as in incremental-saving and shadow attacks, is "other" and TOTAL_FAILED),
// the chain at the timestamp time via pki.VerifyChain with embedded
// revocation data first, the PAdES level and an ETSI indication.
// docs/attacks.md lists the attacks and resource bombs the tests cover.
package pdf
