package gateway

import "sync"

// fifoMap is a map of at most size entries, safe for concurrent use: when
// it is full, an insertion evicts the entry inserted longest ago. The
// gateway's per-process caches keep to a bound this way without the
// bookkeeping of an LRU.
type fifoMap[K comparable, V any] struct {
	mu    sync.Mutex
	m     map[K]V
	ring  []K    // insertion order, for eviction
	taken []bool // ring slots in use
	next  int
}

func newFIFOMap[K comparable, V any](size int) *fifoMap[K, V] {
	return &fifoMap[K, V]{m: make(map[K]V), ring: make([]K, size), taken: make([]bool, size)}
}

// put inserts or replaces k (a replacement keeps its place in the order).
func (f *fifoMap[K, V]) put(k K, v V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[k]; ok {
		f.m[k] = v
		return
	}
	if f.taken[f.next] {
		delete(f.m, f.ring[f.next])
	}
	f.ring[f.next], f.taken[f.next] = k, true
	f.next = (f.next + 1) % len(f.ring)
	f.m[k] = v
}

func (f *fifoMap[K, V]) get(k K) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[k]
	return v, ok
}

func (f *fifoMap[K, V]) delete(k K) {
	f.mu.Lock()
	delete(f.m, k)
	f.mu.Unlock()
}
