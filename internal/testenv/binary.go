package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Binary builds a main package once per test process, for end-to-end tests
// that run the real program. Declare one per package and call Remove from
// TestMain after m.Run.
type Binary struct {
	Package string // import path of the main package

	once sync.Once
	dir  string
	path string
	err  error
}

// Path builds the binary on first use and returns its path; with -short it
// skips t, since the build takes a while.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs " + filepath.Base(b.Package) + "; skipped with -short")
	}
	goTool := LookPath(t, "go", "golang-go (or Go from go.dev)")
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "securesign-bin-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, filepath.Base(b.Package))
		if out, err := exec.Command(goTool, "build", "-o", b.path, b.Package).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", b.Package, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Remove deletes the built binary, if any.
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
