// Package gateway is the SecureSign reference server: the HTTP API of the
// protocol's section 3 on echo, assembled from the signer, pdf, pki, deeplink
// and callback packages, on embedded SQLite or PostgreSQL.
//
// A portal that does not want to write the server side itself runs the
// gateway ("securesign gateway") and talks to it with an API key:
//
//   - token signing: POST /v1/sign/hash, /v1/sign/pdf, /v1/sign/batch and
//     /v1/register open a session and answer a signed securesign:// link;
//     the signing app delivers ss_result to /v1/callback, which verifies it
//     with [callback.Verifier] over the [Store] (compare-and-set completion)
//     and finishes prepared PDFs with pdf.FinishFile;
//   - remote signing: users, one-time codes, certificates the gateway's CA
//     issues from a CSR or with a server-held key, PDF and CSC API v2
//     signing with that key after the user's code;
//   - validation, the public PKI endpoints (/pki/ca.pem, crl, ocsp, tsa),
//     the link keys (/.well-known/securesign-keys.json), audit log, health
//     and Prometheus metrics.
//
// [Store] is the one storage interface; [OpenSQLite] and [OpenPostgres]
// implement it on the same SQL with embedded migrations, and [PKIStore] puts
// the CA's state in the same database. [New] opens everything a [Config]
// names; [NewWithStore] takes an open store; [Server.Serve] answers until
// its context ends and then shuts down gracefully. README.md has the
// configuration table, the error codes and the dev-mode rules.
package gateway
