package gateway

import "testing"

// TestFIFOMap: a full map evicts the entry inserted longest ago; a
// replacement keeps its place; a deleted key's slot is reused safely.
func TestFIFOMap(t *testing.T) {
	f := newFIFOMap[int, string](3)
	for i := range 3 {
		f.put(i, "v")
	}
	f.put(0, "again") // replaced in place, nothing evicted
	if v, ok := f.get(0); !ok || v != "again" {
		t.Fatalf("get(0) = %q, %v", v, ok)
	}
	f.put(3, "v") // evicts 0, the oldest
	if _, ok := f.get(0); ok {
		t.Error("the oldest entry stayed")
	}
	f.delete(1)
	f.put(4, "v") // its slot was 1's: nothing else goes
	for _, k := range []int{2, 3, 4} {
		if _, ok := f.get(k); !ok {
			t.Errorf("%d evicted", k)
		}
	}
}
