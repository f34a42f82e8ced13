package main

import (
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// The server sizes itself to the container's memory: a soft limit for Go's
// garbage collector, so that it works harder before the out-of-memory
// killer ends the task, and a cap on open connections, which the soft
// limit alone cannot provide (live connections are not garbage).
const (
	// goMemoryShare of the container's limit becomes Go's soft limit. The
	// rest is for memory the kernel charges to the container outside Go's
	// heap, socket buffers of open connections above all.
	goMemoryShare = 0.8
	// connMemoryShare of Go's soft limit is the budget for open
	// connections, at perConnMemory each; the rest is for the server
	// itself and for the collector's headroom.
	connMemoryShare = 0.5
	// perConnMemory is what one connection may cost at worst: the attack
	// suite measures about 7 KiB for a connection that sent nothing and
	// about 21 KiB for one holding a stalled request (README.md), but a
	// peer in the middle of a maxHeaderBytes header sent in full-size TLS
	// records holds the record buffer, the header and the bufio buffers
	// at once.
	perConnMemory = 64 << 10
	// fallbackMaxConns applies when no memory limit is known (a local run):
	// what the formula gives for the constructs' default 512 MiB task.
	fallbackMaxConns = 3276
	minMaxConns      = 64
	// fdReserve file descriptors stay free for everything that is not a
	// client connection: the listener, logs, the metadata endpoint.
	fdReserve = 64
)

// Paths of the container's memory limit under cgroup v2 and v1.
const (
	cgroupV2MemoryMax = "/sys/fs/cgroup/memory.max"
	cgroupV1MemoryMax = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
)

// memoryPlan is what the server derived from its environment at start; the
// "listening" log line reports it.
type memoryPlan struct {
	containerLimit int64  // bytes; 0 when unknown
	limitSource    string // where containerLimit came from
	goLimit        int64  // Go's soft limit; math.MaxInt64 for none
	setGoLimit     bool   // false when GOMEMLIMIT set it, or no limit is known
	maxConns       int
	maxConnsSource string
}

// planMemory derives the limits:
//
//   - the container's limit is MEMORY_LIMIT_MIB when set; otherwise the
//     lower of the cgroup's limit (a container-level memory limit) and the
//     task-level limit from the task metadata (Fargate's task size, which
//     a container's own cgroup does not always show);
//   - Go's soft limit is GOMEMLIMIT when set (the runtime has applied it
//     already, goLimitNow), otherwise goMemoryShare of the container's;
//   - the connection cap is MAX_CONNECTIONS when set, otherwise
//     connMemoryShare of Go's limit at perConnMemory a connection, never
//     above the open-file limit minus fdReserve.
//
// readFile reads the cgroup files; fdLimit is 0 when unknown.
func planMemory(cfg *config, getenv func(string) string, readFile func(string) ([]byte, error), meta *taskMetadata, goLimitNow int64, fdLimit int) memoryPlan {
	var p memoryPlan
	switch {
	case cfg.memoryLimitMiB > 0:
		p.containerLimit, p.limitSource = cfg.memoryLimitMiB<<20, "MEMORY_LIMIT_MIB"
	default:
		if b, ok := cgroupLimit(readFile); ok {
			p.containerLimit, p.limitSource = b, "cgroup"
		}
		if meta != nil && meta.Limits.Memory > 0 {
			if b := int64(meta.Limits.Memory) << 20; p.containerLimit == 0 || b < p.containerLimit {
				p.containerLimit, p.limitSource = b, "task metadata"
			}
		}
	}
	if p.limitSource == "" {
		p.limitSource = "none found"
	}

	switch {
	case getenv("GOMEMLIMIT") != "":
		p.goLimit = goLimitNow
	case p.containerLimit > 0:
		p.goLimit, p.setGoLimit = int64(float64(p.containerLimit)*goMemoryShare), true
	default:
		p.goLimit = math.MaxInt64
	}

	switch {
	case cfg.maxConns > 0:
		p.maxConns, p.maxConnsSource = cfg.maxConns, "MAX_CONNECTIONS"
	case p.goLimit != math.MaxInt64:
		p.maxConns = max(minMaxConns, int(float64(p.goLimit)*connMemoryShare/perConnMemory))
		p.maxConnsSource = "memory limit"
	default:
		p.maxConns, p.maxConnsSource = fallbackMaxConns, "default, no memory limit known"
	}
	if fdLimit > fdReserve && p.maxConns > fdLimit-fdReserve && cfg.maxConns == 0 {
		p.maxConns, p.maxConnsSource = fdLimit-fdReserve, "open file limit"
	}
	return p
}

// cgroupLimit reads the container's memory limit from cgroup v2, or v1;
// "max" (v2) and v1's page-rounded maximum mean none.
func cgroupLimit(readFile func(string) ([]byte, error)) (int64, bool) {
	for _, path := range []string{cgroupV2MemoryMax, cgroupV1MemoryMax} {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// applyMemoryPlan sets Go's soft limit, unless GOMEMLIMIT did, and returns
// the limit now in force, as the runtime reports it.
func applyMemoryPlan(p memoryPlan) int64 {
	if p.setGoLimit {
		debug.SetMemoryLimit(p.goLimit)
	}
	return debug.SetMemoryLimit(-1)
}
