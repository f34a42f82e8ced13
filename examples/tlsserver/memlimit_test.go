package main

import (
	"io/fs"
	"math"
	"testing"
)

// TestPlanMemory: where the container's memory limit comes from, what Go's
// soft limit and the connection cap become.
func TestPlanMemory(t *testing.T) {
	const mib = 1 << 20
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(path string) ([]byte, error) {
			if s, ok := m[path]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	fargate512 := &taskMetadata{}
	fargate512.Limits.Memory = 512
	tests := []struct {
		name    string
		cfg     config
		env     map[string]string
		files   map[string]string
		meta    *taskMetadata
		goLimit int64 // the runtime's, as GOMEMLIMIT left it
		fdLimit int
		want    memoryPlan
	}{
		{
			name: "nothing known",
			want: memoryPlan{limitSource: "none found", goLimit: math.MaxInt64, maxConns: fallbackMaxConns, maxConnsSource: "default, no memory limit known"},
		},
		{
			name:  "cgroup v2",
			files: map[string]string{cgroupV2MemoryMax: "536870912\n"},
			want:  memoryPlan{containerLimit: 512 * mib, limitSource: "cgroup", goLimit: 429496729, setGoLimit: true, maxConns: 3276, maxConnsSource: "memory limit"},
		},
		{
			name:  "cgroup v2 without a limit, Fargate task size from the metadata",
			files: map[string]string{cgroupV2MemoryMax: "max\n"},
			meta:  fargate512,
			want:  memoryPlan{containerLimit: 512 * mib, limitSource: "task metadata", goLimit: 429496729, setGoLimit: true, maxConns: 3276, maxConnsSource: "memory limit"},
		},
		{
			name:  "the lower of cgroup and task",
			files: map[string]string{cgroupV2MemoryMax: "268435456"},
			meta:  fargate512,
			want:  memoryPlan{containerLimit: 256 * mib, limitSource: "cgroup", goLimit: 214748364, setGoLimit: true, maxConns: 1638, maxConnsSource: "memory limit"},
		},
		{
			name:  "cgroup v1 unlimited",
			files: map[string]string{cgroupV1MemoryMax: "9223372036854771712"},
			want:  memoryPlan{limitSource: "none found", goLimit: math.MaxInt64, maxConns: fallbackMaxConns, maxConnsSource: "default, no memory limit known"},
		},
		{
			name:  "MEMORY_LIMIT_MIB over everything",
			cfg:   config{memoryLimitMiB: 100},
			files: map[string]string{cgroupV2MemoryMax: "536870912"},
			want:  memoryPlan{containerLimit: 100 * mib, limitSource: "MEMORY_LIMIT_MIB", goLimit: 83886080, setGoLimit: true, maxConns: 640, maxConnsSource: "memory limit"},
		},
		{
			name:    "GOMEMLIMIT is the runtime's business",
			env:     map[string]string{"GOMEMLIMIT": "50MiB"},
			files:   map[string]string{cgroupV2MemoryMax: "536870912"},
			goLimit: 50 * mib,
			want:    memoryPlan{containerLimit: 512 * mib, limitSource: "cgroup", goLimit: 50 * mib, maxConns: 400, maxConnsSource: "memory limit"},
		},
		{
			name:  "MAX_CONNECTIONS over the formula",
			cfg:   config{maxConns: 10},
			files: map[string]string{cgroupV2MemoryMax: "536870912"},
			want:  memoryPlan{containerLimit: 512 * mib, limitSource: "cgroup", goLimit: 429496729, setGoLimit: true, maxConns: 10, maxConnsSource: "MAX_CONNECTIONS"},
		},
		{
			name:    "open file limit",
			files:   map[string]string{cgroupV2MemoryMax: "4294967296"},
			fdLimit: 1024,
			want:    memoryPlan{containerLimit: 4096 * mib, limitSource: "cgroup", goLimit: 3435973836, setGoLimit: true, maxConns: 1024 - fdReserve, maxConnsSource: "open file limit"},
		},
		{
			name: "a tiny container still takes a few connections",
			cfg:  config{memoryLimitMiB: 6},
			want: memoryPlan{containerLimit: 6 * mib, limitSource: "MEMORY_LIMIT_MIB", goLimit: 5033164, setGoLimit: true, maxConns: minMaxConns, maxConnsSource: "memory limit"},
		},
	}
	if tests[1].want.maxConns != fallbackMaxConns {
		t.Errorf("fallbackMaxConns is %d, but a 512 MiB container gets %d", fallbackMaxConns, tests[1].want.maxConns)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planMemory(&tt.cfg, envMap(tt.env), files(tt.files), tt.meta, tt.goLimit, tt.fdLimit)
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestMemoryLimitApplied: the server binary sets Go's soft limit from
// MEMORY_LIMIT_MIB and reports the limit the runtime then holds; with
// GOMEMLIMIT set it leaves the runtime's limit alone.
func TestMemoryLimitApplied(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	tests := []struct {
		env           string
		goLimit       float64
		maxConns      float64
		containerSrc  string
		containerSize float64
	}{
		{"MEMORY_LIMIT_MIB=100", 83886080, 640, "MEMORY_LIMIT_MIB", 100 << 20},
		{"GOMEMLIMIT=50MiB", 50 << 20, 400, "none found", 0},
	}
	for _, tt := range tests {
		srv := startServer(t, append(certEnv(certPEM, keyPEM), tt.env)...)
		line := srv.stdout.find(func(m map[string]any) bool { return m["msg"] == "listening" })
		if line["go_memory_limit_bytes"] != tt.goLimit || line["max_connections"] != tt.maxConns ||
			line["memory_limit_source"] != tt.containerSrc || line["memory_limit_bytes"] != tt.containerSize {
			t.Errorf("%s: listening line %v", tt.env, line)
		}
	}
}
