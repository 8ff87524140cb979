package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"help", []string{"-h"}, nil, 0, "loopback"},
		{"no target", nil, nil, 1, "-url or -gateway is required"},
		{"remote target", []string{"-url", "http://192.0.2.1:8080", "-data", "x"}, map[string]string{"SECURESIGN_API_KEY": "k"}, 1, "not a loopback address"},
		{"no key", []string{"-url", "http://127.0.0.1:1"}, nil, 1, "SECURESIGN_API_KEY is not set"},
		{"codes through the dev route", []string{"-url", "http://127.0.0.1:1"}, map[string]string{"SECURESIGN_API_KEY": "k"}, 1, "certifying the load key"},
		{"one of several targets remote", []string{"-url", "http://127.0.0.1:1,http://192.0.2.1:8080"}, map[string]string{"SECURESIGN_API_KEY": "k"}, 1, "not a loopback address"},
		{"extra argument", []string{"now"}, nil, 2, "unexpected argument"},
		{"both targets", []string{"-url", "http://127.0.0.1:1", "-gateway", "/bin/false"}, nil, 1, "not both"},
		{"hsm without gateway", []string{"-hsm", "-mode", "signhash", "-url", "http://127.0.0.1:1"}, nil, 1, "-hsm needs -gateway"},
		{"hsm other mode", []string{"-hsm", "-gateway", "/bin/false"}, nil, 1, "-mode signhash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb, env(tt.env))
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Errorf("code %d, want %d; output %q does not contain %q", code, tt.code, out.String()+errb.String(), tt.want)
			}
		})
	}
}
