package desktop

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
)

// OpenBrowser opens url in the user's default browser: xdg-open on Linux and
// the BSDs, open on macOS, the URL protocol handler via rundll32 on Windows.
func OpenBrowser(ctx context.Context, url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", url)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("desktop: opening the browser (open %s yourself): %w", url, err)
	}
	go cmd.Wait() // reap; xdg-open may outlive us
	return nil
}
