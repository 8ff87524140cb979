package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DevTenantID is the tenant dev mode creates.
const DevTenantID = "dev"

// EnsureDevTenant creates the dev tenant and a test API key on first start
// and returns the key (shown once). When the tenant exists it returns ""
// and no new key, unless newKey is set: keys are stored only as hashes, so
// the first one cannot be shown again.
func EnsureDevTenant(ctx context.Context, st Store, now time.Time, newKey bool) (string, error) {
	err := st.CreateTenant(ctx, &Tenant{ID: DevTenantID, Name: "Development tenant", CreatedAt: now})
	switch {
	case err == nil:
	case errors.Is(err, ErrExists):
		if !newKey {
			return "", nil
		}
	default:
		return "", err
	}
	key, _, err := NewAPIKey(ctx, st, DevTenantID, "dev", false, now)
	if err != nil {
		return "", err
	}
	if err := st.AppendAudit(ctx, &AuditEntry{TenantID: DevTenantID, At: now, Actor: "admin", Action: "apikey.create", Detail: "dev"}); err != nil {
		return "", err
	}
	return key, nil
}

// OpenStore opens the store a configuration names: PostgreSQL when
// PostgresDSN is set, else SQLite at <DataDir>/gateway.db. With a
// MasterKey it keys the audit chain (KeyAuditChain).
func OpenStore(ctx context.Context, cfg Config) (Store, error) {
	st, err := openStore(ctx, cfg)
	if err != nil || len(cfg.MasterKey) == 0 {
		return st, err
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	if err := KeyAuditChain(ctx, st, cfg.MasterKey, now()); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func openStore(ctx context.Context, cfg Config) (Store, error) {
	if cfg.PostgresDSN != "" {
		return OpenPostgres(ctx, cfg.PostgresDSN)
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = "securesign-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("gateway: data directory: %w", err)
	}
	path := filepath.Join(dir, "gateway.db")
	if err := prepareDBFile(path); err != nil {
		return nil, err
	}
	return OpenSQLite(ctx, path)
}
