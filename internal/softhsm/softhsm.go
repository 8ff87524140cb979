// Package softhsm makes SoftHSM2 tokens that live in a directory of their
// own (their own softhsm2.conf and token files), for the tests
// (internal/softhsmtest) and the load generator's HSM mode.
package softhsm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Module is where Debian's softhsm2 package puts its PKCS#11 module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// InitToken writes dir/softhsm2.conf, with the token files in dir/tokens,
// and initializes a token labelled label there with softhsm2-util (util,
// its path). It returns the configuration's path: every process that uses
// the token needs it in SOFTHSM2_CONF.
func InitToken(ctx context.Context, util, dir, label, soPIN, pin string) (conf string, err error) {
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", err
	}
	conf = filepath.Join(dir, "softhsm2.conf")
	text := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\nslots.mechanisms = ALL\nlibrary.reset_on_fork = false\n", tokens)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, util, "--init-token", "--free", "--label", label, "--so-pin", soPIN, "--pin", pin)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("softhsm2-util --init-token: %w: %s", err, out)
	}
	return conf, nil
}
