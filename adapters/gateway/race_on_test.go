//go:build race

package gateway

// raceSlowdown scales the few latency bounds the tests assert: the race
// detector makes every request several times slower.
const raceSlowdown = 10
