package reach

import (
	"fmt"
	"slices"
	"strings"
)

// PortRange is an inclusive range of TCP or UDP ports.
type PortRange struct {
	From, To int
}

// AllPorts is every TCP or UDP port: what a rule for all protocols (-1)
// admits.
var AllPorts = PortRange{0, 65535}

// DynamicPorts is the ECS agent's default range of dynamic host ports on
// Linux container instances, which bridge-mode tasks with HostPort 0 are
// given (ECS_DYNAMIC_HOST_PORT_RANGE, whose default the ECS-optimized AMIs
// take from net.ipv4.ip_local_port_range). Instances whose user data sets
// ECS_DYNAMIC_HOST_PORT_RANGE use that range instead.
var DynamicPorts = PortRange{32768, 60999}

// Port is the range of the single port p.
func Port(p int) PortRange { return PortRange{p, p} }

// Contains reports whether every port of o is in r.
func (r PortRange) Contains(o PortRange) bool { return r.From <= o.From && o.To <= r.To }

func (r PortRange) String() string {
	switch {
	case r == AllPorts:
		return "all ports"
	case r.From == r.To:
		return fmt.Sprint(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To)
}

// portSet is a union of port ranges, kept sorted and merged.
type portSet []PortRange

func (s portSet) add(r PortRange) portSet {
	out := append(slices.Clone(s), r)
	slices.SortFunc(out, func(a, b PortRange) int { return a.From - b.From })
	merged := out[:0]
	for _, x := range out {
		if n := len(merged); n > 0 && x.From <= merged[n-1].To+1 {
			merged[n-1].To = max(merged[n-1].To, x.To)
			continue
		}
		merged = append(merged, x)
	}
	return merged
}

// covers reports whether every port of r is in s.
func (s portSet) covers(r PortRange) bool {
	for _, x := range s {
		if x.Contains(r) {
			return true
		}
	}
	return false
}

// missing is the part of r that s does not cover.
func (s portSet) missing(r PortRange) portSet {
	var out portSet
	next := r.From
	for _, x := range s {
		if x.To < next || x.From > r.To {
			continue
		}
		if x.From > next {
			out = append(out, PortRange{next, x.From - 1})
		}
		next = x.To + 1
		if next > r.To {
			return out
		}
	}
	return append(out, PortRange{next, r.To})
}

func (s portSet) String() string {
	if len(s) == 0 {
		return "nothing"
	}
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}
