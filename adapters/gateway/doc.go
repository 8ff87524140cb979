// Package gateway is the SecureSign reference server: the HTTP API of the
// protocol's section 3 on echo, assembled from the signer, pdf, pki, deeplink
// and callback packages, on embedded SQLite or PostgreSQL.
package gateway
