package lg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is the gateway's resource use at one moment.
type Sample struct {
	At         time.Time `json:"at"`
	RSSBytes   int64     `json:"rssBytes"`          // process_resident_memory_bytes (or VmRSS)
	Goroutines int       `json:"goroutines"`        // go_goroutines
	HWMBytes   int64     `json:"hwmBytes,omitzero"` // VmHWM from /proc when the pid is known
	CPUSeconds float64   `json:"cpuSeconds"`        // process_cpu_seconds_total: user+system CPU so far
}

// Scrape reads process_resident_memory_bytes and go_goroutines from the
// gateway's /metrics, and VmRSS/VmHWM from /proc when pid > 0. A client of
// several gateways gets their sum.
func Scrape(ctx context.Context, c *Client, pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	bases := c.Bases
	if len(bases) == 0 {
		bases = []string{c.BaseURL}
	}
	for _, b := range bases {
		res, err := c.DoAt(ctx, b, http.MethodGet, "/metrics", nil, false)
		if err != nil {
			return s, err
		}
		if res.Status != http.StatusOK {
			return s, fmt.Errorf("lg: %s/metrics answered %d", b, res.Status)
		}
		m := ParseMetrics(res.Body)
		s.RSSBytes, s.Goroutines, s.CPUSeconds = s.RSSBytes+m.RSSBytes, s.Goroutines+m.Goroutines, s.CPUSeconds+m.CPUSeconds
	}
	if pid > 0 && len(bases) == 1 {
		if st, err := ProcStatus(pid); err == nil {
			s.RSSBytes, s.HWMBytes = st["VmRSS"], st["VmHWM"]
		}
	}
	return s, nil
}

// ProcStatus returns the Vm* lines of /proc/PID/status in bytes.
func ProcStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "Vm") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[name] = n << 10
			}
		}
	}
	return out, nil
}

// ParseMetrics reads process_resident_memory_bytes, go_goroutines and
// process_cpu_seconds_total from a Prometheus text exposition; missing or
// malformed values are zero.
func ParseMetrics(body []byte) Sample {
	var s Sample
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || !(f >= 0 && f <= 1<<62) { // also refuses NaN
			continue
		}
		switch name {
		case "process_resident_memory_bytes":
			s.RSSBytes = int64(f)
		case "go_goroutines":
			s.Goroutines = int(f)
		case "process_cpu_seconds_total":
			s.CPUSeconds = f
		}
	}
	return s
}
