package pdf

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTmpSeeds(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzVerify/*")
	var seeds [][]byte
	for _, p := range files {
		b, _ := os.ReadFile(p)
		s := strings.TrimPrefix(string(b), "go test fuzz v1\n[]byte(")
		s = strings.TrimSuffix(s, ")\n")
		data, _ := strconv.Unquote(s)
		seeds = append(seeds, []byte(data))
	}
	roots := getPKI(t).roots
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		d := append([]byte(nil), seeds[rnd.Intn(len(seeds))]...)
		if len(d) == 0 {
			continue
		}
		for k := 0; k < 1+rnd.Intn(4); k++ {
			p := rnd.Intn(len(d))
			switch rnd.Intn(3) {
			case 0:
				d[p] = byte(rnd.Intn(256))
			case 1:
				d[p] = "0123456789<>[]()/ \n"[rnd.Intn(19)]
			case 2:
				d = append(d[:p], d[min(len(d), p+rnd.Intn(20)):]...)
			}
			if len(d) == 0 {
				break
			}
		}
		st := time.Now()
		lim := Limits{MaxStreamBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxXrefEntries: 1 << 16, Timeout: 3 * time.Second}
		_, err := Verify(context.Background(), bytes.NewReader(d), int64(len(d)), VerifyOptions{Roots: roots, Limits: lim})
		if el := time.Since(st); el > 200*time.Millisecond {
			os.WriteFile("/tmp/slow.pdf", d, 0o644)
			t.Fatalf("slow %v: %v", el, err)
		}
	}
}
