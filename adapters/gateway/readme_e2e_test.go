package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testenv"
)

// readmeTryIt returns the commands of the README's "Try it" block (the
// first ```sh block after the words "Try it"), continuation lines joined,
// comment-only lines dropped, and checks that the README's first block
// still starts the gateway the way this test does.
func readmeTryIt(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	blockRe := regexp.MustCompile("(?s)```sh\n(.*?)\n```")
	first := blockRe.FindStringSubmatch(s)
	if first == nil || !strings.Contains(first[1], "go run ./adapters/cmd/securesign gateway --dev") {
		t.Fatal("README.md's first block no longer starts the gateway with `go run ./adapters/cmd/securesign gateway --dev`: update this test")
	}
	i := strings.Index(s, "Try it")
	if i < 0 {
		t.Fatal(`README.md has no "Try it"`)
	}
	m := blockRe.FindStringSubmatch(s[i:])
	if m == nil {
		t.Fatal(`README.md has no sh block after "Try it"`)
	}
	var cmds []string
	var cur string
	for _, l := range strings.Split(m[1], "\n") {
		if c, ok := strings.CutSuffix(l, "\\"); ok {
			cur += c + " "
			continue
		}
		cur += l
		if c := strings.TrimSpace(cur); c != "" && !strings.HasPrefix(c, "#") {
			cmds = append(cmds, c)
		}
		cur = ""
	}
	return cmds
}

// TestTryItAsDocumented runs the README's "Try it" as a reader would, in
// bash from the repository root, against the real binary in dev mode (a
// free port and a temporary data directory instead of 127.0.0.1:8080 and
// ./securesign-data): the key line gets the key the gateway printed, the
// address is this gateway's, and each command must succeed and print what
// the README promises (a page to open in a browser, `open URL`, must
// answer 200). The README cannot drift from the code without this test
// failing. It also checks that nothing lands in the repository root.
func TestTryItAsDocumented(t *testing.T) {
	bash := testenv.LookPath(t, "bash", "bash")
	testenv.LookPath(t, "curl", "curl")
	testenv.LookPath(t, "openssl", "openssl")
	cmds := readmeTryIt(t)
	var sawKey, sawCurl, sawRemote bool
	for _, c := range cmds {
		sawKey = sawKey || strings.HasPrefix(c, "KEY=")
		sawCurl = sawCurl || strings.HasPrefix(c, "curl ")
		sawRemote = sawRemote || strings.Contains(c, "go run ./examples/remote")
	}
	if !sawKey || !sawCurl || !sawRemote {
		t.Fatalf("README's Try it lost its KEY=, curl or examples/remote line: update this test\n%s", strings.Join(cmds, "\n"))
	}

	data := t.TempDir()
	p := startGateway(t, data, "127.0.0.1:0")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	before := dirNames(t, root)
	tmp := t.TempDir()
	env := append(os.Environ(),
		"SECURESIGN_DATA="+data,     // where the dev gateway's OTP outbox is
		"SECURESIGN_GATEWAY="+p.url, // examples' address (env), as their READMEs say
		"TMPDIR="+tmp)               // examples' default output
	for _, c := range cmds {
		if strings.HasPrefix(c, "KEY=") {
			env = append(env, "KEY="+p.key) // "from the line the gateway printed"
			continue
		}
		c = strings.ReplaceAll(c, "http://127.0.0.1:8080", p.url)
		if f := strings.Fields(c); f[0] == "open" || f[0] == "xdg-open" {
			// A page for the reader's browser: it must be there.
			res, err := http.Get(strings.Trim(f[1], `"'`))
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("$ %s: %v %v", c, err, res)
			}
			res.Body.Close()
			continue
		}
		cmd := exec.Command(bash, "-euo", "pipefail", "-c", c)
		cmd.Dir, cmd.Env = root, env
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("$ %s   (%s)\n%s", c, time.Since(start).Round(time.Millisecond), out)
		if err != nil {
			t.Fatalf("README command failed: %v\n$ %s\n%s\ngateway: %s", err, c, out, p.stderr)
		}
		switch {
		case strings.HasPrefix(c, "curl "):
			var ans struct {
				Success  bool   `json:"success"`
				DeepLink string `json:"deepLink"`
			}
			if err := json.Unmarshal(out, &ans); err != nil || !ans.Success || !strings.HasPrefix(ans.DeepLink, "securesign://sign?") {
				t.Errorf("curl answered %s (%v), want success and a deep link", out, err)
			}
		case strings.Contains(c, "go run ./examples/remote"):
			for _, want := range []string{"valid=true TOTAL_PASSED", "CSC signHash  1 signature", "The signed PDF is " + filepath.Join(tmp, "securesign-remote-signed.pdf")} {
				if !strings.Contains(string(out), want) {
					t.Errorf("examples/remote printed no %q", want)
				}
			}
		}
	}
	if after := dirNames(t, root); !slices.Equal(before, after) {
		t.Errorf("the README's commands changed the repository root: before %v, after %v", before, after)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
