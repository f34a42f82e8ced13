package integ

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/reach"
)

// From says where a path check connects from.
type From string

// Where checks connect from.
const (
	// FromTestProcess: the machine running the suite, over the internet.
	FromTestProcess From = "test process"
	// FromTask: a one-off ECS task in probe mode, with the calling
	// service's task definition, subnets and security groups.
	FromTask From = "task"
)

// PathCheck is one traffic path of a deployed stack to check: who connects,
// to what, and what must happen.
type PathCheck struct {
	// Name says what the path is, for messages.
	Name string
	From From
	// Caller is the logical ID of the ECS service a FromTask check runs as.
	Caller string
	// Address is the HOST:PORT to dial when the template knows it (a
	// caller's *_ADDRESS environment variable); empty when it is the load
	// balancer's DNS name and Port, known only once deployed.
	Address      string
	LoadBalancer string // logical ID, for the DNS name
	Port         int
	// Target is the logical ID of the ECS service that must answer, empty
	// for a path to another stack (PrivateLink).
	Target string
	// MutualTLS is set when the target requires a client certificate.
	MutualTLS bool
	// Refused is set for a check that the connection must fail: a listener
	// of an internet-facing load balancer that admits no internet client.
	Refused bool
}

// Envs that carry the HOST:PORT a service calls end in this.
const addressSuffix = "_ADDRESS"

// PlanPaths lists the checks for one stack's template, from the reachability
// analysis (internal/reach) of its listeners and the addresses its services'
// containers are given:
//
//   - a listener that admits any address on an internet-facing load balancer
//     is dialled from the test process;
//   - a listener that admits callers by security group is dialled by each of
//     those callers, at the address in its *_ADDRESS variable for that port
//     (architecture 2 both ways, architecture 3's private path);
//   - a listener that admits an address range, not the internet, is dialled
//     from inside the VPC by its own service's task definition;
//   - a listener that admits only security groups of no service (a
//     blue/green test listener, for its TLS verification function) is
//     dialled by no task;
//   - a listener of an internet-facing load balancer that admits no internet
//     client must refuse the test process;
//   - every other *_ADDRESS (the PrivateLink consumer's PROVIDER_ADDRESS) is
//     dialled by the service that has it.
func PlanPaths(template map[string]any) ([]PathCheck, error) {
	rep, err := reach.Analyze(template)
	if err != nil {
		return nil, err
	}
	resources, _ := template["Resources"].(map[string]any)
	owners := map[string][]string{} // security group -> services behind it
	for _, s := range rep.Services {
		for _, p := range s.Placements {
			for _, g := range p.SecurityGroups {
				owners[g] = append(owners[g], s.ID)
			}
		}
	}
	var checks []PathCheck
	used := map[string]bool{} // service/variable pairs a listener check used
	for _, p := range rep.Paths {
		if p.Service == nil || p.LoadBalancer == nil {
			return nil, fmt.Errorf("path %s reaches no service of the template", p)
		}
		if !p.Open() {
			return nil, fmt.Errorf("path %s is closed in the template: %v", p, p.Failures)
		}
		base := PathCheck{
			LoadBalancer: p.LoadBalancer.ID,
			Port:         p.Listener.Port,
			Target:       p.Service.ID,
			MutualTLS:    hasSecret(resources, p.Service.ID, "TLS_CLIENT_CA"),
		}
		var public bool
		var callers []string
		groupsOnly := len(p.Clients) > 0
		for _, r := range p.Clients {
			switch {
			case r.Peer.AnyAddress():
				public = true
			case r.Peer.Kind == reach.PeerGroup:
				callers = append(callers, owners[r.Peer.ID]...)
			}
			groupsOnly = groupsOnly && r.Peer.Kind == reach.PeerGroup
		}
		slices.Sort(callers)
		callers = slices.Compact(callers)
		switch {
		case public && p.LoadBalancer.InternetFacing:
			c := base
			c.From, c.Name = FromTestProcess, fmt.Sprintf("internet -> %s:%d -> %s", p.LoadBalancer.ID, p.Listener.Port, p.Service.Name)
			checks = append(checks, c)
		case len(callers) > 0:
			for _, caller := range callers {
				c := base
				c.From, c.Caller = FromTask, caller
				if name, addr, ok := addressFor(resources, caller, p.Listener.Port); ok {
					c.Address = addr
					used[caller+"/"+name] = true
				}
				c.Name = fmt.Sprintf("%s -> %s -> %s", serviceName(caller), c.dialled(), p.Service.Name)
				checks = append(checks, c)
			}
		case groupsOnly:
			// Admitted only to security groups of no ECS service: a
			// blue/green service's test listener, which only its TLS
			// verification function reaches. No task may dial it.
		default:
			c := base
			c.From, c.Caller = FromTask, p.Service.ID
			c.Name = fmt.Sprintf("%s (inside the VPC) -> %s:%d -> %s", p.Service.Name, p.LoadBalancer.ID, p.Listener.Port, p.Service.Name)
			checks = append(checks, c)
		}
		if !public && p.LoadBalancer.InternetFacing {
			c := base
			c.From, c.Refused = FromTestProcess, true
			c.Name = fmt.Sprintf("internet -x-> %s:%d (admits no internet client)", p.LoadBalancer.ID, p.Listener.Port)
			checks = append(checks, c)
		}
	}
	for _, s := range rep.Services {
		for name, addr := range addresses(resources, s.ID) {
			if used[s.ID+"/"+name] {
				continue
			}
			checks = append(checks, PathCheck{
				Name: fmt.Sprintf("%s -> %s (%s)", s.Name, addr, name),
				From: FromTask, Caller: s.ID, Address: addr,
			})
		}
	}
	slices.SortFunc(checks, func(a, b PathCheck) int { return strings.Compare(a.Name, b.Name) })
	return checks, nil
}

// dialled names what a check dials before it is deployed.
func (c PathCheck) dialled() string {
	if c.Address != "" {
		return c.Address
	}
	return fmt.Sprintf("%s:%d", c.LoadBalancer, c.Port)
}

// serviceName is reach's short name for a service's logical ID.
func serviceName(id string) string {
	if len(id) > 8 {
		id = id[:len(id)-8]
	}
	return strings.TrimSuffix(id, "Service")
}

// containers returns the container definitions of a service's task
// definition in the template.
func containers(resources map[string]any, service string) []map[string]any {
	props := properties(resources[service])
	ref, _ := props["TaskDefinition"].(map[string]any)
	id, _ := ref["Ref"].(string)
	list, _ := properties(resources[id])["ContainerDefinitions"].([]any)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func properties(resource any) map[string]any {
	r, _ := resource.(map[string]any)
	p, _ := r["Properties"].(map[string]any)
	return p
}

// hasSecret reports whether a container of the service gets the ECS secret
// name (TLS_CLIENT_CA turns mutual TLS on in the example server).
func hasSecret(resources map[string]any, service, name string) bool {
	for _, c := range containers(resources, service) {
		secrets, _ := c["Secrets"].([]any)
		for _, s := range secrets {
			if m, _ := s.(map[string]any); m["Name"] == name {
				return true
			}
		}
	}
	return false
}

// addresses returns the service's *_ADDRESS variables with a literal
// HOST:PORT value.
func addresses(resources map[string]any, service string) map[string]string {
	out := map[string]string{}
	for _, c := range containers(resources, service) {
		env, _ := c["Environment"].([]any)
		for _, e := range env {
			m, _ := e.(map[string]any)
			name, _ := m["Name"].(string)
			value, ok := m["Value"].(string)
			if !ok || !strings.HasSuffix(name, addressSuffix) {
				continue
			}
			if _, _, err := net.SplitHostPort(value); err == nil {
				out[name] = value
			}
		}
	}
	return out
}

// addressFor finds the one *_ADDRESS of the service whose port is port.
func addressFor(resources map[string]any, service string, port int) (name, addr string, ok bool) {
	var found []string
	all := addresses(resources, service)
	for n, a := range all {
		if _, p, _ := net.SplitHostPort(a); p == strconv.Itoa(port) {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return "", "", false
	}
	return found[0], all[found[0]], true
}
