package gateway

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sweepFiles removes what no session can need any more: temp files of
// interrupted requests (older than an hour) and prepared PDFs older than
// two hours (a link lives at most 15 minutes; the signed copy is made from
// the prepared file right after the result arrives, or on the first status
// query after a crash). Signed PDFs stay for the retention period (applyRetention).
func (s *Server) sweepFiles(ctx context.Context, now time.Time) (removed int) {
	removed, err := s.docs.Sweep(ctx, now.Add(-2*time.Hour), time.Time{})
	if err != nil {
		s.log.Error("sweeping prepared documents", "err", err.Error())
	}
	entries, err := os.ReadDir(s.filesDir())
	if err != nil {
		return removed
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".tmp") {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < time.Hour {
			continue
		}
		if os.Remove(filepath.Join(s.filesDir(), name)) == nil {
			removed++
		}
	}
	return removed
}

// janitor sweeps every ten minutes until ctx ends: stale temp files,
// documents and sessions past the retention period; and it signs a
// checkpoint of every audit chain.
func (s *Server) janitor(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	s.applyRetention(ctx, s.cfg.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := s.sweepFiles(ctx, time.Now()); n > 0 {
				s.log.Info("removed stale files", "count", n)
			}
			s.applyRetention(ctx, s.cfg.Now())
			s.checkpointAll(ctx, s.cfg.Now())
		}
	}
}
