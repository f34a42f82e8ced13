// Package upgrade tells what updating a deployed stack with a new template
// does to it, before anything is deployed: which resources CloudFormation
// updates in place, replaces, creates or deletes, by the resource
// specification's update semantics (classify.js, through
// @aws-cdk/cloudformation-diff pinned in package.json), and which updates it
// refuses or that fail half way, which the specification alone does not
// show (see Refusals).
//
// The tests of the example stacks use it to fail on any replacement of a
// load balancer, listener, target group, ECS service, security group,
// endpoint service or named alarm that a change does not declare
// (test/testdata/replacements.json), and to generate the README's table of
// what each prop replaces.
package upgrade

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// Impact is what an update does to one resource.
type Impact string

// The impacts classify.js reports.
const (
	Create  Impact = "CREATE"
	Update  Impact = "UPDATE"
	Replace Impact = "REPLACE"
	Destroy Impact = "DESTROY"
)

// Change is what an update does to one resource.
type Change struct {
	LogicalID string `json:"id"`
	Type      string `json:"type"`
	Impact    Impact `json:"impact"`
	// Replacing are the properties whose change replaces the resource.
	Replacing []string `json:"replacing"`
}

// Pair is one stack: the template it was deployed with and the template
// that updates it.
type Pair struct {
	Name     string
	Old, New map[string]any
}

// Result is what the update of one Pair does.
type Result struct {
	Name string
	// Changes lists every resource that changes, by logical ID.
	Changes []Change
	// Refused lists what makes CloudFormation refuse the update or fail it
	// half way (see Refusals); empty when it can go through.
	Refused []Refusal
	old     *cfn.Template
	new     *cfn.Template
}

// Script is classify.js, beside this file.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "classify.js")
}

// Analyze classifies every pair with one Node.js process (starting one costs
// more than classifying a template) and looks for refusals in each.
func Analyze(pairs []Pair) ([]Result, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not on PATH: run `make tools` and put node_modules/.bin first on PATH")
	}
	type wire struct {
		Name string         `json:"name"`
		Old  map[string]any `json:"old"`
		New  map[string]any `json:"new"`
	}
	in := struct {
		Pairs []wire `json:"pairs"`
	}{}
	for _, p := range pairs {
		in.Pairs = append(in.Pairs, wire{p.Name, p.Old, p.New})
	}
	input, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, Script())
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", node, Script(), err, stderr.String())
	}
	var out map[string][]Change
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("reading classify.js output: %v", err)
	}
	var results []Result
	for _, p := range pairs {
		r := Result{Name: p.Name, Changes: out[p.Name]}
		if r.old, err = cfn.New(p.Old); err != nil {
			return nil, fmt.Errorf("%s, old template: %v", p.Name, err)
		}
		if r.new, err = cfn.New(p.New); err != nil {
			return nil, fmt.Errorf("%s, new template: %v", p.Name, err)
		}
		r.Refused = refusals(r.old, r.new, r.Changes)
		results = append(results, r)
	}
	return results, nil
}

// Roles of the resources whose replacement must be declared, by type: a
// new load balancer has a new DNS name; a new listener or target group
// drops connections or refuses the update (see Refusals); a new ECS service
// starts every task anew; a security group cannot be deleted while a task
// or rule still uses it; a new endpoint service has a new service name that
// every consumer's endpoint must be recreated with; and an alarm with a
// fixed name is created under a name the old one holds.
var roles = map[string]string{
	cfn.TypeLoadBalancer:    "load balancer",
	cfn.TypeListener:        "listener",
	cfn.TypeTargetGroup:     "target group",
	cfn.TypeService:         "ECS service",
	cfn.TypeSecurityGroup:   "security group",
	cfn.TypeEndpointService: "endpoint service",
	typeAlarm:               "alarm",
}

const typeAlarm = "AWS::CloudWatch::Alarm"

// RoleOrder is the order in which roles are listed.
var RoleOrder = []string{"load balancer", "listener", "target group", "ECS service", "security group", "endpoint service", "alarm"}

// Role is the role of the changed resource if its replacement or removal
// must be declared, and "" otherwise. Alarms count when they have a fixed
// AlarmName.
func (r Result) Role(c Change) string {
	role := roles[c.Type]
	if c.Type != typeAlarm {
		return role
	}
	for _, t := range []*cfn.Template{r.old, r.new} {
		if res := t.Lookup(c.LogicalID); res != nil && res.Props["AlarmName"] != nil {
			return role
		}
	}
	return ""
}

// Replaced lists the changes that replace or remove a resource with a
// Role: a replacement, or a logical ID that is gone (renamed, or deleted).
func (r Result) Replaced() []Change {
	var out []Change
	for _, c := range r.Changes {
		if (c.Impact == Replace || c.Impact == Destroy) && r.Role(c) != "" {
			out = append(out, c)
		}
	}
	return out
}

// ReplacedRoles lists, in RoleOrder, the roles of the resources the update
// replaces: those of Replaced, where a removed logical ID counts only when
// a resource of its type is created in its place (a rename), not when the
// resource is simply deleted.
func (r Result) ReplacedRoles() []string {
	created := map[string]bool{}
	for _, c := range r.Changes {
		if c.Impact == Create {
			created[c.Type] = true
		}
	}
	seen := map[string]bool{}
	for _, c := range r.Replaced() {
		if c.Impact == Destroy && !created[c.Type] {
			continue
		}
		seen[r.Role(c)] = true
	}
	var out []string
	for _, role := range RoleOrder {
		if seen[role] {
			out = append(out, role)
		}
	}
	return out
}

// RefusedKinds lists the kinds of the update's refusals, sorted, without
// repeats.
func (r Result) RefusedKinds() []string {
	var out []string
	for _, x := range r.Refused {
		out = append(out, x.Kind)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// String describes a change for a test's message.
func (c Change) String() string {
	s := fmt.Sprintf("%s %s %s", strings.ToLower(string(c.Impact)), c.Type, c.LogicalID)
	if len(c.Replacing) > 0 {
		s += " (" + strings.Join(c.Replacing, ", ") + ")"
	}
	return s
}

// impacts indexes changes by logical ID.
func impacts(changes []Change) map[string]Impact {
	m := map[string]Impact{}
	for _, c := range changes {
		m[c.LogicalID] = c.Impact
	}
	return m
}

func sortRefusals(out []Refusal) []Refusal {
	slices.SortFunc(out, func(a, b Refusal) int { return strings.Compare(a.LogicalID+a.Reason, b.LogicalID+b.Reason) })
	return slices.Compact(out)
}
