package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
)

// Example runs a development gateway on a free port, as
// "securesign gateway --dev --listen 127.0.0.1:0" does, until ctx ends.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	dir, _ := os.MkdirTemp("", "gateway-example-")
	defer os.RemoveAll(dir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := gateway.OpenSQLite(ctx, filepath.Join(dir, "gateway.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	srv, err := gateway.NewWithStore(ctx, gateway.Config{
		Dev: true, DataDir: dir, PublicURL: "http://" + ln.Addr().String(),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}, st)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, err := gateway.EnsureDevTenant(ctx, st, time.Now(), false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("api key prefix:", key[:8])
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Println(err)
	}
	// Output: api key prefix: ss_test_
}
