//go:build !signonly

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/internal/atomicfile"
)

// runGatewayAdmin administers a gateway's database directly (tenants, API
// keys, allowed origins, link keys, audit chain). It works on the same
// --data directory or SECURESIGN_POSTGRES_DSN as the server, which may be
// running.
func runGatewayAdmin(ctx context.Context, e *env, args []string) int {
	type sub struct {
		summary string
		run     func(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error
		flags   func(fs *flag.FlagSet, o *adminOpts)
	}
	tenantFlag := func(fs *flag.FlagSet, o *adminOpts) { fs.StringVar(&o.tenant, "tenant", "", "tenant id") }
	subs := map[string]sub{
		"tenant-create": {"create a tenant and its first API key", adminTenantCreate, func(fs *flag.FlagSet, o *adminOpts) {
			tenantFlag(fs, o)
			fs.StringVar(&o.name, "name", "", "tenant display name")
			fs.BoolVar(&o.live, "live", false, "make an ss_live_ key (default ss_test_)")
			fs.Var(&o.origins, "origin", "allowed origin, scheme://host[:port] or scheme://host:*; repeatable")
		}},
		"tenant-list":    {"list tenants", adminTenantList, nil},
		"tenant-disable": {"disable a tenant (its keys stop working)", adminTenantDisable(true), tenantFlag},
		"tenant-enable":  {"enable a disabled tenant", adminTenantDisable(false), tenantFlag},
		"key-create": {"create an API key (printed once)", adminKeyCreate, func(fs *flag.FlagSet, o *adminOpts) {
			tenantFlag(fs, o)
			fs.StringVar(&o.name, "name", "", "key name")
			fs.BoolVar(&o.live, "live", false, "make an ss_live_ key (default ss_test_)")
		}},
		"key-list": {"list a tenant's API keys (ids, never secrets)", adminKeyList, tenantFlag},
		"key-revoke": {"revoke an API key", adminKeyRevoke, func(fs *flag.FlagSet, o *adminOpts) {
			tenantFlag(fs, o)
			fs.StringVar(&o.id, "id", "", "key id (the 16 hex digits after ss_test_/ss_live_)")
		}},
		"origin-add":      {"allow an origin for a tenant", adminOrigin("add"), originFlags(tenantFlag)},
		"origin-remove":   {"remove an allowed origin", adminOrigin("remove"), originFlags(tenantFlag)},
		"origin-list":     {"list a tenant's allowed origins", adminOrigin("list"), tenantFlag},
		"link-key-rotate": {"create a new link-signing key for a tenant (--tenant) and make it active", adminRotate, tenantFlag},
		"audit-verify": {"verify a tenant's audit chain (HMAC links; with --checkpoint, against an exported signed checkpoint)", adminAuditVerify, func(fs *flag.FlagSet, o *adminOpts) {
			tenantFlag(fs, o)
			fs.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint file exported by audit-checkpoint: the chain must still hold the entry it signed")
		}},
		"audit-checkpoint": {"sign a checkpoint of a tenant's audit chain head and write it (JSON) to --out or stdout", adminAuditCheckpoint, func(fs *flag.FlagSet, o *adminOpts) {
			tenantFlag(fs, o)
			fs.StringVar(&o.out, "out", "", "file to write the checkpoint to (default stdout)")
		}},
		"audit-key": {"print the public key (PEM) that verifies audit checkpoints, for openssl", adminAuditKey, nil},
		"tenant-profiles": {"narrow the certificate profiles a tenant may have issued (empty --profiles: all signing profiles)", adminTenantProfiles, func(fs *flag.FlagSet, o *adminOpts) {
			tenantFlag(fs, o)
			fs.StringVar(&o.profiles, "profiles", "", "comma-separated: "+strings.Join(gateway.APIProfiles, ", ")+"; empty allows all of them")
		}},
	}
	summaries := map[string]string{}
	runs := map[string]func([]string) int{}
	for name, sc := range subs {
		summaries[name] = sc.summary
		runs[name] = func(args []string) int {
			var o adminOpts
			fs := newFlagSet(e, "gateway admin "+name, "gateway admin "+name+" [flags]\n\nThe database is --data DIR (SQLite) or SECURESIGN_POSTGRES_DSN.\n\nflags:")
			storeFlags(fs, e, &o.data)
			fs.BoolVar(&o.json, "json", false, "print JSON")
			if sc.flags != nil {
				sc.flags(fs, &o)
			}
			if code, ok := parseFlags(fs, args); !ok {
				return code
			}
			o.e = e
			cfg := gateway.Config{DataDir: o.data, PostgresDSN: e.getenv("SECURESIGN_POSTGRES_DSN")}
			// The audit chain is keyed: appending to it or verifying it
			// needs the master key (the environment's, or dev mode's file).
			master, err := adminMasterKey(e, o.data)
			if err != nil {
				return fail(e, "gateway admin", err)
			}
			cfg.MasterKey, o.master = master, master
			if cfg.PostgresDSN == "" {
				if _, err := os.Stat(filepath.Join(o.data, "gateway.db")); err != nil {
					return fail(e, "gateway admin", fmt.Errorf("no gateway database in %s (start the gateway once, or set --data)", o.data))
				}
			}
			st, err := gateway.OpenStore(ctx, cfg)
			if err != nil {
				return fail(e, "gateway admin", err)
			}
			defer st.Close()
			if err := sc.run(ctx, st, fs, &o); err != nil {
				return fail(e, "gateway admin "+name, err)
			}
			return 0
		}
	}
	return subcommand(e, "gateway admin", args, runs, summaries)
}

type adminOpts struct {
	e                  *env
	data, tenant, name string
	id, origin         string
	live, json         bool
	origins            multiFlag
	profiles           string
	checkpoint, out    string
	master             []byte
}

func adminTenantProfiles(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if err := needTenant(o); err != nil {
		return err
	}
	var list []string
	for _, p := range strings.Split(o.profiles, ",") {
		if p = strings.TrimSpace(p); p != "" {
			list = append(list, p)
		}
	}
	if err := gateway.SetTenantProfiles(ctx, st, o.tenant, list); err != nil {
		return err
	}
	if err := adminAudit(ctx, st, o.tenant, "tenant.profiles", strings.Join(list, ",")); err != nil {
		return err
	}
	if len(list) == 0 {
		list = gateway.APIProfiles
	}
	if o.json {
		return printJSON(o.e.stdout, map[string]any{"tenantId": o.tenant, "profiles": list})
	}
	fmt.Fprintf(o.e.stdout, "tenant %s may have issued: %s\n", o.tenant, strings.Join(list, ", "))
	return nil
}

func originFlags(base func(*flag.FlagSet, *adminOpts)) func(*flag.FlagSet, *adminOpts) {
	return func(fs *flag.FlagSet, o *adminOpts) {
		base(fs, o)
		fs.StringVar(&o.origin, "origin", "", "origin, scheme://host[:port] or scheme://host:*")
	}
}

func needTenant(o *adminOpts) error {
	if o.tenant == "" {
		return errors.New("--tenant is required")
	}
	return nil
}

func adminAudit(ctx context.Context, st gateway.Store, tenant, action, detail string) error {
	return st.AppendAudit(ctx, &gateway.AuditEntry{TenantID: tenant, At: time.Now(), Actor: "admin", Action: action, Detail: detail})
}

func adminTenantCreate(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if err := needTenant(o); err != nil {
		return err
	}
	var origins []string
	for _, raw := range o.origins {
		n, err := gateway.NormalizeOrigin(raw)
		if err != nil {
			return err
		}
		origins = append(origins, n)
	}
	name := o.name
	if name == "" {
		name = o.tenant
	}
	now := time.Now()
	// The name is what signing apps show above the origin (org).
	if err := deeplink.CheckOrg(name); err != nil {
		return fmt.Errorf("--name: %w (it is shown to users as the organisation asking)", err)
	}
	if err := st.CreateTenant(ctx, &gateway.Tenant{ID: o.tenant, Name: name, CreatedAt: now}); err != nil {
		return err
	}
	for _, or := range origins {
		if err := st.AddOrigin(ctx, o.tenant, or); err != nil {
			return err
		}
	}
	key, k, err := gateway.NewAPIKey(ctx, st, o.tenant, "initial", o.live, now)
	if err != nil {
		return err
	}
	if err := adminAudit(ctx, st, o.tenant, "tenant.create", "key "+k.ID); err != nil {
		return err
	}
	if o.json {
		return printJSON(o.e.stdout, map[string]any{"tenantId": o.tenant, "apiKey": key, "keyId": k.ID, "origins": origins})
	}
	fmt.Fprintf(o.e.stdout, "tenant: %s\napi key: %s\n", o.tenant, key)
	return nil
}

func adminTenantList(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	ts, err := st.Tenants(ctx)
	if err != nil {
		return err
	}
	if o.json {
		out := []map[string]any{}
		for _, t := range ts {
			out = append(out, map[string]any{"tenantId": t.ID, "name": t.Name, "disabled": t.Disabled, "createdAt": t.CreatedAt})
		}
		return printJSON(o.e.stdout, out)
	}
	for _, t := range ts {
		state := "active"
		if t.Disabled {
			state = "disabled"
		}
		fmt.Fprintf(o.e.stdout, "%s\t%s\t%s\n", t.ID, state, t.Name)
	}
	return nil
}

func adminTenantDisable(disabled bool) func(context.Context, gateway.Store, *flag.FlagSet, *adminOpts) error {
	return func(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
		if err := needTenant(o); err != nil {
			return err
		}
		if err := st.SetTenantDisabled(ctx, o.tenant, disabled); err != nil {
			return err
		}
		action := "tenant.enable"
		if disabled {
			action = "tenant.disable"
		}
		return adminAudit(ctx, st, o.tenant, action, "")
	}
}

func adminKeyCreate(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if err := needTenant(o); err != nil {
		return err
	}
	key, k, err := gateway.NewAPIKey(ctx, st, o.tenant, o.name, o.live, time.Now())
	if err != nil {
		return err
	}
	if err := adminAudit(ctx, st, o.tenant, "apikey.create", "key "+k.ID); err != nil {
		return err
	}
	if o.json {
		return printJSON(o.e.stdout, map[string]any{"tenantId": o.tenant, "apiKey": key, "keyId": k.ID})
	}
	fmt.Fprintf(o.e.stdout, "api key: %s\n", key)
	return nil
}

func adminKeyList(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if err := needTenant(o); err != nil {
		return err
	}
	keys, err := st.APIKeys(ctx, o.tenant)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, k := range keys {
		m := map[string]any{"keyId": k.ID, "name": k.Name, "live": k.Live, "createdAt": k.CreatedAt, "revoked": !k.RevokedAt.IsZero()}
		out = append(out, m)
		if !o.json {
			state := "active"
			if !k.RevokedAt.IsZero() {
				state = "revoked"
			}
			fmt.Fprintf(o.e.stdout, "%s\t%s\t%s\n", k.ID, state, k.Name)
		}
	}
	if o.json {
		return printJSON(o.e.stdout, out)
	}
	return nil
}

func adminKeyRevoke(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if err := needTenant(o); err != nil {
		return err
	}
	if o.id == "" {
		return errors.New("--id is required")
	}
	if err := st.RevokeAPIKey(ctx, o.tenant, o.id, time.Now()); err != nil {
		return fmt.Errorf("key %s of tenant %s: %w", o.id, o.tenant, err)
	}
	return adminAudit(ctx, st, o.tenant, "apikey.revoke", "key "+o.id)
}

func adminOrigin(op string) func(context.Context, gateway.Store, *flag.FlagSet, *adminOpts) error {
	return func(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
		if err := needTenant(o); err != nil {
			return err
		}
		if _, err := st.Tenant(ctx, o.tenant); err != nil {
			return fmt.Errorf("tenant %s: %w", o.tenant, err)
		}
		if op == "list" {
			list, err := st.Origins(ctx, o.tenant)
			if err != nil {
				return err
			}
			if o.json {
				if list == nil {
					list = []string{}
				}
				return printJSON(o.e.stdout, list)
			}
			for _, x := range list {
				fmt.Fprintln(o.e.stdout, x)
			}
			return nil
		}
		n, err := gateway.NormalizeOrigin(o.origin)
		if err != nil {
			return err
		}
		if op == "add" {
			err = st.AddOrigin(ctx, o.tenant, n)
		} else {
			err = st.RemoveOrigin(ctx, o.tenant, n)
		}
		if err != nil {
			return err
		}
		return adminAudit(ctx, st, o.tenant, "origin."+op, n)
	}
}

// adminMasterKey is the master key from the environment, else dev mode's
// <data>/master.key; nil when there is neither.
func adminMasterKey(e *env, data string) ([]byte, error) {
	master, err := masterKey(e, e.getenv("SECURESIGN_MASTER_KEY_FILE"))
	if err == nil && master == nil {
		master, err = masterKey(e, filepath.Join(data, "master.key"))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	return master, err
}

var errNoMasterKey = errors.New("no master key: set SECURESIGN_MASTER_KEY or SECURESIGN_MASTER_KEY_FILE")

func adminRotate(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	master := o.master
	if master == nil {
		return errNoMasterKey
	}
	kid, err := gateway.RotateTenantLinkKey(ctx, st, master, o.tenant, time.Now())
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(o.e.stdout, map[string]string{"kid": kid})
	}
	fmt.Fprintf(o.e.stdout, "active link key: %s (restart the gateways to sign with it; earlier keys stay published)\n", kid)
	return nil
}

func adminAuditVerify(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if err := needTenant(o); err != nil {
		return err
	}
	var n int
	var err error
	if o.checkpoint != "" {
		var b []byte
		var cp *gateway.AuditCheckpoint
		if o.master == nil {
			return errNoMasterKey
		}
		if b, err = os.ReadFile(o.checkpoint); err != nil {
			return err
		}
		if cp, err = gateway.ParseAuditCheckpoint(b); err != nil {
			return err
		}
		if cp.TenantID != o.tenant {
			return fmt.Errorf("the checkpoint is of tenant %s, not %s", cp.TenantID, o.tenant)
		}
		n, err = gateway.VerifyAuditCheckpoint(ctx, st, cp, o.master)
	} else {
		n, err = st.VerifyAudit(ctx, o.tenant)
	}
	if o.json {
		out := map[string]any{"tenantId": o.tenant, "entries": n, "valid": err == nil}
		if err != nil {
			out["error"] = err.Error()
		}
		if perr := printJSON(o.e.stdout, out); perr != nil {
			return perr
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.e.stdout, "audit chain of %s: %d entries, valid\n", o.tenant, n)
	return nil
}

func adminAuditCheckpoint(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if err := needTenant(o); err != nil {
		return err
	}
	if o.master == nil {
		return errNoMasterKey
	}
	cp, err := gateway.NewAuditCheckpoint(ctx, st, o.tenant, time.Now())
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if o.out == "" {
		_, err = o.e.stdout.Write(b)
		return err
	}
	if err := atomicfile.WriteBytes(o.out, b, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(o.e.stderr, "checkpoint of %s: entry %d, written to %s\n", o.tenant, cp.Seq, o.out)
	return nil
}

func adminAuditKey(ctx context.Context, st gateway.Store, fs *flag.FlagSet, o *adminOpts) error {
	if o.master == nil {
		return errNoMasterKey
	}
	pub, err := gateway.AuditPublicKeyPEM(o.master)
	if err != nil {
		return err
	}
	_, err = o.e.stdout.Write(pub)
	return err
}
