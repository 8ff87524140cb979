// Package pdf makes and checks PAdES signatures in PDF documents.
//
// It signs in one go with any [signer.Signer] (levels B-B, B-T, B-LT, B-LTA),
// or in two phases for keys that live on a user's token far away: [Prepare]
// returns the digest to sign and a small serialisable state, [Finish] embeds
// the signature. Signatures are appended as incremental updates, so earlier
// signatures and form fields stay intact. Validation reports integrity,
// coverage, changes after signing, chain, revocation and an ETSI indication.
package pdf
