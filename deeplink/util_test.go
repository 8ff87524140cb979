package deeplink

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
)

func ed25519Sign(k *SigningKey, s string) []byte { return ed25519.Sign(k.Key, []byte(s)) }

func fmtSscanf(s string, x, y, w *int) (int, error) { return fmt.Sscanf(s, "%d %dh%d", x, y, w) }

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
