package desktop_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/securesign/securesign/adapters/desktop"
)

// The Desktop Software as "securesign desktop open LINK" runs it: forward
// the link to a running instance, or become the instance and show the page.
func Example() {
	ctx := context.Background()
	link := "securesign://sign?..." // from os.Args, put there by the OS
	sock, err := desktop.SocketPath(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	if err := desktop.Forward(ctx, sock, link); err == nil {
		return // the running instance took it
	}
	inst, err := desktop.Listen(ctx, sock)
	if err != nil {
		log.Fatal(err)
	}
	defer inst.Close()
	app := &desktop.App{
		Policy:   desktop.Policy{AllowedOrigins: []string{"https://portal.example.in"}},
		Keystore: &desktop.PKCS11Keystore{Modules: desktop.DefaultModules(nil)},
	}
	if err := app.Run(ctx, link, desktop.RunOptions{Instance: inst}); err != nil {
		log.Fatal(err)
	}
}

func ExampleCanonicalOrigin() {
	o, _ := desktop.CanonicalOrigin("HTTPS://Portal.Example.in:443/")
	fmt.Println(o)
	// Output: https://portal.example.in
}

func ExampleFingerprint() {
	digest := []byte{0xd2, 0x01, 0x3c, 0x32, 0x0d, 0xa9, 0x85, 0x27, 0xff, 0xff}
	fmt.Println(desktop.Fingerprint(digest))
	// Output: D201 3C32 0DA9 8527 …
}
