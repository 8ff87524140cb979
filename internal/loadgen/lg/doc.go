// Package lg is the library of the gateway load generator
// (internal/loadgen): a bounded, loopback-only driver of complete signing
// sessions against a running "securesign gateway", used by the program and
// by the hardening tests.
//
// A unit of work in mode "sessions" is what a portal and a signing app do
// together: POST /v1/sign/hash, parse the deep link (deeplink.Parse), sign
// its digest with an RSA key the gateway's own CA certified from a CSR,
// build and encode ss_result (callback.NewSuccess, callback.Encode), POST it
// to /v1/callback and check that the session is signed. Mode "mixed" adds
// status queries, PDF validation, health checks, replays and deliberately
// bad requests that must answer 4xx. Mode "signhash" runs the CSC flow over
// a server-held key: OTP, credentials/authorize, signatures/signHash.
//
// Every run is bounded by time (at most [MaxDuration]) and optionally by a
// count, and refuses targets that are not loopback addresses.
package lg
