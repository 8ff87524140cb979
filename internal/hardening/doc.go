// Package hardening holds end-to-end tests that build the real securesign
// binary, run "securesign gateway --dev" as a separate process and drive
// it over loopback with the load generator's library
// (internal/loadgen/lg): a bounded mixed-traffic load test, a crash
// consistency loop with SIGKILL, a secret scan of logs, audit log and data
// directory, two gateways on one PostgreSQL database, and the memory cost
// of a large PDF upload.
//
// Environment: SECURESIGN_LOAD_DURATION (load test length, default 2m
// under CI=true and 15s otherwise), SECURESIGN_CRASH_ROUNDS (default 10),
// SECURESIGN_REPORT_DIR (JSON figures are written there when set),
// SECURESIGN_TEST_POSTGRES_DSN (PostgreSQL tests).
//
// The tests build only on Linux with cgo: they read /proc and open SoftHSM
// through PKCS#11, as the gateway they drive does.
package hardening
