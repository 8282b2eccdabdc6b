//go:build race

package tokencache_test

// raceEnabled: the race detector slows goroutines and memory down; big tests shrink.
const raceEnabled = true
