package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// synthesizedTemplate is the golden synthesis of an example stack, kept
// identical to the current synthesis by the snapshot tests in test/. It is
// read with encoding/json only, so this package needs no CDK.
const synthesizedTemplate = "../../test/testdata/PassthroughPublicServicesFargate.template.json"

// TestPassthroughAsSynthesized runs the passthrough checks of
// TestPassthrough once per NLB listener of the synthesized stack, with what
// the template says: the listener port, the target group's protocol and
// PROXY protocol setting (on for at least one listener, required), the container's port, environment and secrets
// (the secret names decide which PEMs the test supplies, and so whether
// mutual TLS is on), and its StopTimeout as the bound on a clean SIGTERM
// exit.
//
// The listener cases run one after another: the template gives every
// service the same container port, so each case stops its server before
// the next one starts.
func TestPassthroughAsSynthesized(t *testing.T) {
	t.Parallel()
	tpl := readTemplate(t, synthesizedTemplate)
	listeners := tpl.ofType("AWS::ElasticLoadBalancingV2::Listener")
	if len(listeners) == 0 {
		t.Fatalf("%s has no AWS::ElasticLoadBalancingV2::Listener: nothing to prove", synthesizedTemplate)
	}

	var cases []*listenerCase
	for _, id := range listeners {
		c, err := tpl.resolveListener(id)
		if err != nil {
			t.Fatalf("%s: %v", synthesizedTemplate, err)
		}
		cases = append(cases, c)
	}
	slices.SortFunc(cases, func(a, b *listenerCase) int {
		return cmp.Or(cmp.Compare(a.ListenerPort, b.ListenerPort), cmp.Compare(a.ListenerID, b.ListenerID))
	})
	// One example service turns PROXY protocol on, so the PROXY path runs
	// against the synthesized template too, not only against a hand-set
	// environment (TestProxyProtocol).
	if !slices.ContainsFunc(cases, func(c *listenerCase) bool { return c.ProxyProtocolV2 }) {
		t.Fatalf("%s: no listener's target group has proxy_protocol_v2.enabled, so the PROXY path would go unproven against the template", synthesizedTemplate)
	}

	pki := newTestPKI(t)
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", c.ListenerPort, c.ListenerID), func(t *testing.T) {
			runListenerCase(t, pki, c)
		})
	}
}

// listenerCase is one NLB listener followed to the container behind it.
type listenerCase struct {
	ListenerID       string
	ListenerPort     int
	TargetGroupID    string
	TargetPort       int
	ProxyProtocolV2  bool // target group attribute proxy_protocol_v2.enabled
	ServiceID        string
	TaskDefinitionID string
	ContainerName    string
	ContainerPort    int
	Env              []string // the container's Environment as NAME=value
	Secrets          []string // the names of the container's Secrets
	StopTimeout      time.Duration
	StopTimeoutSet   bool // false: ECS's default applies
}

// String names the whole path, for failure messages.
func (c *listenerCase) String() string {
	return fmt.Sprintf("listener %s (port %d) -> target group %s (port %d) -> service %s -> task definition %s container %q (port %d)",
		c.ListenerID, c.ListenerPort, c.TargetGroupID, c.TargetPort, c.ServiceID, c.TaskDefinitionID, c.ContainerName, c.ContainerPort)
}

func runListenerCase(t *testing.T, pki *testPKI, c *listenerCase) {
	t.Logf("%s; secrets %v; environment %v", c, c.Secrets, c.Env)

	// The certificate comes from Secrets Manager in the task; here the
	// test supplies PEMs under the secret names the template gives.
	certPEM, keyPEM := pki.validServerPEM(t)
	supply := map[string][]byte{"TLS_CERT": certPEM, "TLS_KEY": keyPEM, "TLS_CLIENT_CA": pki.caPEM}
	env := slices.Clone(c.Env)
	for _, name := range c.Secrets {
		pem, ok := supply[name]
		if !ok {
			t.Fatalf("%s: secret %s is not one this test can supply (TLS_CERT, TLS_KEY, TLS_CLIENT_CA)", c, name)
		}
		env = append(env, name+"="+string(pem))
	}
	for _, name := range []string{"TLS_CERT", "TLS_KEY"} {
		if !slices.Contains(c.Secrets, name) {
			t.Fatalf("%s: the container has no secret %s, so the server in it has no certificate to serve", c, name)
		}
	}
	mtls := slices.Contains(c.Secrets, "TLS_CLIENT_CA")

	getenv := envLookup(env)
	serverPP, err := parseProxyProtocol(getenv("PROXY_PROTOCOL"))
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	if serverPP != c.ProxyProtocolV2 {
		t.Fatalf("%s: target group proxy_protocol_v2.enabled=%t but the container's PROXY_PROTOCOL=%q: the server would misread every connection",
			c, c.ProxyProtocolV2, getenv("PROXY_PROTOCOL"))
	}
	shutdown, err := parseSeconds(getenv, "SHUTDOWN_TIMEOUT_SECONDS", defaultShutdownTimeout)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	// The server checks its budget against STOP_TIMEOUT_SECONDS, which must
	// then be the container's real stop timeout.
	if s := getenv("STOP_TIMEOUT_SECONDS"); s != "" && s != strconv.Itoa(int(c.StopTimeout.Seconds())) {
		t.Errorf("%s: STOP_TIMEOUT_SECONDS=%s, but the container's stop timeout is %s", c, s, c.StopTimeout)
	}
	stopSrc := "StopTimeout in the template"
	if !c.StopTimeoutSet {
		stopSrc = "ECS default, no StopTimeout in the template"
	}
	if shutdown >= c.StopTimeout {
		t.Errorf("%s: server shutdown budget SHUTDOWN_TIMEOUT_SECONDS=%s is not below the container's stop timeout %s (%s): ECS would SIGKILL a draining server",
			c, shutdown, c.StopTimeout, stopSrc)
	} else {
		t.Logf("shutdown budget %s < stop timeout %s (%s)", shutdown, c.StopTimeout, stopSrc)
	}

	srv := startServerPreferring(t, c, env)
	if want := pemFingerprint(t, certPEM); srv.certFP != want {
		t.Fatalf("%s: server logged certificate %s, the PEM given as TLS_CERT is %s", c, srv.certFP, want)
	}
	if line := srv.stdout.find(func(m map[string]any) bool { return m["msg"] == "listening" }); line["mtls"] != mtls || line["proxy_protocol"] != c.ProxyProtocolV2 {
		t.Fatalf("%s: server logged mtls=%v proxy_protocol=%v, template implies mtls=%t proxy_protocol=%t",
			c, line["mtls"], line["proxy_protocol"], mtls, c.ProxyProtocolV2)
	}
	proxy := startListenerProxy(t, c, srv.addr)

	opts := checkOptions{Roots: pki.pool, WantClientAddr: c.ProxyProtocolV2}
	if mtls {
		client := pki.clientCert(t, "client-of-"+c.ListenerID)
		opts.ClientCert = &client
	}
	if errs := runPassthroughChecks(proxy, srv.certFP, opts); len(errs) > 0 {
		t.Errorf("%s (NLB stand-in on %s, server on %s, mtls=%t, proxy protocol=%t): failed checks %v",
			c, proxy, srv.addr, mtls, c.ProxyProtocolV2, failedChecks(errs))
		for _, err := range errs {
			t.Errorf("  %v", err)
		}
	} else {
		t.Logf("passthrough checks passed through %s to %s (mtls=%t, proxy protocol=%t)", proxy, srv.addr, mtls, c.ProxyProtocolV2)
	}

	// As ECS stops the task: SIGTERM, then SIGKILL after StopTimeout.
	start := time.Now()
	srv.signal(t, syscall.SIGTERM)
	code := srv.wait(c.StopTimeout)
	elapsed := time.Since(start)
	switch code {
	case 0:
		t.Logf("exited 0 %s after SIGTERM (stop timeout %s)", elapsed.Round(time.Millisecond), c.StopTimeout)
	case -1:
		t.Errorf("%s: server still running %s after SIGTERM (stop timeout, %s): ECS would SIGKILL it\n%s", c, c.StopTimeout, stopSrc, srv.stdout)
	default:
		t.Errorf("%s: server exited %d after SIGTERM, want 0\n%s", c, code, srv.stdout)
	}
}

// startServerPreferring starts the server on the container port from the
// template or, if that port cannot be bound (busy, or privileged), on an
// ephemeral one.
func startServerPreferring(t *testing.T, c *listenerCase, env []string) *serverProc {
	t.Helper()
	srv, err := tryStartServer(t, append(slices.Clone(env), "PORT="+strconv.Itoa(c.ContainerPort))...)
	if err == nil {
		t.Logf("server listens on the container port %d", c.ContainerPort)
		return srv
	}
	reason := bindFailure.FindString(err.Error())
	if reason == "" {
		t.Fatalf("%s: %v", c, err)
	}
	srv = startServer(t, append(slices.Clone(env), "PORT=0")...)
	t.Logf("server cannot bind the container port %d (%s); listens on ephemeral port %s instead", c.ContainerPort, reason, srv.port)
	return srv
}

// bindFailure matches the server's "listen tcp :8443: bind: ..." error.
var bindFailure = regexp.MustCompile(`listen tcp [^"]*: bind: [^"]*`)

// startListenerProxy stands in for the NLB listener on 127.0.0.1 at the
// listener port or, if that cannot be bound, an ephemeral port.
func startListenerProxy(t *testing.T, c *listenerCase, target string) string {
	t.Helper()
	opts := proxyOptions{ProxyProtocolV2: c.ProxyProtocolV2}
	want := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.ListenerPort))
	ln, err := net.Listen("tcp", want)
	if err != nil {
		ln = mustListen(t, "127.0.0.1:0")
		t.Logf("NLB stand-in cannot bind the listener port %d (%v); using %s", c.ListenerPort, err, ln.Addr())
	} else {
		t.Logf("NLB stand-in listens on the listener port: %s", ln.Addr())
	}
	return serveTCPProxy(t, ln, target, opts)
}

func envLookup(env []string) func(string) string {
	return func(key string) string {
		for _, kv := range slices.Backward(env) {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				return v
			}
		}
		return ""
	}
}

// The parts of a CloudFormation template the test follows.

type cfnTemplate struct {
	Resources map[string]cfnResource `json:"Resources"`
}

type cfnResource struct {
	Type       string          `json:"Type"`
	Properties json.RawMessage `json:"Properties"`
}

// cfnInt is a number property, which CloudFormation also accepts as a
// string; anything else (an intrinsic function) is an error.
type cfnInt int

func (n *cfnInt) UnmarshalJSON(b []byte) error {
	var i int
	if err := json.Unmarshal(b, &i); err == nil {
		*n = cfnInt(i)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if i, err := strconv.Atoi(s); err == nil {
			*n = cfnInt(i)
			return nil
		}
	}
	return fmt.Errorf("%s is not a literal number", b)
}

type cfnListener struct {
	Port           cfnInt          `json:"Port"`
	Protocol       string          `json:"Protocol"`
	Certificates   json.RawMessage `json:"Certificates"`
	SslPolicy      json.RawMessage `json:"SslPolicy"`
	LoadBalancer   json.RawMessage `json:"LoadBalancerArn"`
	DefaultActions []struct {
		Type           string          `json:"Type"`
		TargetGroupArn json.RawMessage `json:"TargetGroupArn"`
	} `json:"DefaultActions"`
}

type cfnLoadBalancer struct {
	Type string `json:"Type"`
}

type cfnTargetGroup struct {
	Port       cfnInt `json:"Port"`
	Protocol   string `json:"Protocol"`
	Attributes []struct {
		Key   string `json:"Key"`
		Value string `json:"Value"`
	} `json:"TargetGroupAttributes"`
}

type cfnService struct {
	LoadBalancers []struct {
		ContainerName  string          `json:"ContainerName"`
		ContainerPort  cfnInt          `json:"ContainerPort"`
		TargetGroupArn json.RawMessage `json:"TargetGroupArn"`
	} `json:"LoadBalancers"`
	TaskDefinition json.RawMessage `json:"TaskDefinition"`
}

type cfnTaskDefinition struct {
	NetworkMode          string         `json:"NetworkMode"`
	ContainerDefinitions []cfnContainer `json:"ContainerDefinitions"`
}

type cfnContainer struct {
	Name         string `json:"Name"`
	PortMappings []struct {
		ContainerPort cfnInt `json:"ContainerPort"`
	} `json:"PortMappings"`
	Environment []struct {
		Name  string          `json:"Name"`
		Value json.RawMessage `json:"Value"`
	} `json:"Environment"`
	Secrets []struct {
		Name string `json:"Name"`
	} `json:"Secrets"`
	StopTimeout *cfnInt `json:"StopTimeout"`
}

// readTemplate reads and parses the template. The file may be rewritten
// while the test runs (it is regenerated from the synthesis), so a read
// that does not parse is retried briefly before failing.
func readTemplate(t *testing.T, path string) *cfnTemplate {
	t.Helper()
	var lastErr error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			lastErr = err
			continue
		}
		var tpl cfnTemplate
		if err := json.Unmarshal(b, &tpl); err != nil {
			lastErr = fmt.Errorf("parse %s: %w", path, err)
			continue
		}
		if len(tpl.Resources) == 0 {
			lastErr = fmt.Errorf("%s has no Resources", path)
			continue
		}
		return &tpl
	}
	t.Fatalf("reading the synthesized template: %v", lastErr)
	return nil
}

// ofType returns the logical IDs of the resources of type typ, sorted.
func (tpl *cfnTemplate) ofType(typ string) []string {
	var ids []string
	for id, r := range tpl.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// props decodes the properties of resource id, which must be of type typ.
func (tpl *cfnTemplate) props(id, typ string, v any) error {
	r, ok := tpl.Resources[id]
	switch {
	case !ok:
		return fmt.Errorf("no resource %s", id)
	case r.Type != typ:
		return fmt.Errorf("resource %s is a %s, want %s", id, r.Type, typ)
	}
	if err := json.Unmarshal(r.Properties, v); err != nil {
		return fmt.Errorf("%s (%s) properties: %w", id, typ, err)
	}
	return nil
}

// refTo returns the logical ID in {"Ref": id}, or "" if raw is not one.
func refTo(raw json.RawMessage) string {
	var ref struct {
		Ref string `json:"Ref"`
	}
	if json.Unmarshal(raw, &ref) != nil {
		return ""
	}
	return ref.Ref
}

// resolveListener follows listener id to its target group, the ECS
// service registered in it, and the container that service routes to.
func (tpl *cfnTemplate) resolveListener(id string) (*listenerCase, error) {
	c := &listenerCase{ListenerID: id}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("listener %s (port %d): %s", id, c.ListenerPort, fmt.Sprintf(format, args...))
	}

	var l cfnListener
	if err := tpl.props(id, "AWS::ElasticLoadBalancingV2::Listener", &l); err != nil {
		return nil, fail("%v", err)
	}
	c.ListenerPort = int(l.Port)
	if c.ListenerPort <= 0 || c.ListenerPort > 65535 {
		return nil, fail("Port %d is not a TCP port", c.ListenerPort)
	}
	if l.Protocol != "TCP" {
		return nil, fail("Protocol %q, want TCP: only a TCP listener passes TLS through", l.Protocol)
	}
	if l.Certificates != nil || l.SslPolicy != nil {
		return nil, fail("has Certificates or SslPolicy, so the NLB would hold a certificate and terminate TLS")
	}
	if lb := refTo(l.LoadBalancer); lb != "" {
		var nlb cfnLoadBalancer
		if err := tpl.props(lb, "AWS::ElasticLoadBalancingV2::LoadBalancer", &nlb); err != nil {
			return nil, fail("LoadBalancerArn: %v", err)
		}
		if nlb.Type != "network" {
			return nil, fail("load balancer %s has Type %q, want network", lb, nlb.Type)
		}
	}
	if len(l.DefaultActions) != 1 || l.DefaultActions[0].Type != "forward" {
		return nil, fail("want exactly one forward default action, got %d", len(l.DefaultActions))
	}
	c.TargetGroupID = refTo(l.DefaultActions[0].TargetGroupArn)
	if c.TargetGroupID == "" {
		return nil, fail("DefaultActions[0].TargetGroupArn is %s, want {\"Ref\": <target group>}", l.DefaultActions[0].TargetGroupArn)
	}

	var tg cfnTargetGroup
	if err := tpl.props(c.TargetGroupID, "AWS::ElasticLoadBalancingV2::TargetGroup", &tg); err != nil {
		return nil, fail("%v", err)
	}
	if tg.Protocol != "TCP" {
		return nil, fail("target group %s has Protocol %q, want TCP", c.TargetGroupID, tg.Protocol)
	}
	c.TargetPort = int(tg.Port)
	for _, a := range tg.Attributes {
		if a.Key == "proxy_protocol_v2.enabled" {
			c.ProxyProtocolV2 = a.Value == "true"
		}
	}

	// The service that registers its tasks in the target group.
	for _, sid := range tpl.ofType("AWS::ECS::Service") {
		var s cfnService
		if err := tpl.props(sid, "AWS::ECS::Service", &s); err != nil {
			return nil, fail("%v", err)
		}
		for _, lb := range s.LoadBalancers {
			if refTo(lb.TargetGroupArn) != c.TargetGroupID {
				continue
			}
			if c.ServiceID != "" {
				return nil, fail("target group %s is used by both %s and %s", c.TargetGroupID, c.ServiceID, sid)
			}
			c.ServiceID, c.ContainerName = sid, lb.ContainerName
			c.TaskDefinitionID = refTo(s.TaskDefinition)
			if c.TaskDefinitionID == "" {
				return nil, fail("service %s: TaskDefinition is %s, want {\"Ref\": <task definition>}", sid, s.TaskDefinition)
			}
			c.ContainerPort = int(lb.ContainerPort)
		}
	}
	if c.ServiceID == "" {
		return nil, fail("no AWS::ECS::Service has LoadBalancers with TargetGroupArn {\"Ref\": %q}", c.TargetGroupID)
	}
	serviceContainerPort := c.ContainerPort

	var td cfnTaskDefinition
	if err := tpl.props(c.TaskDefinitionID, "AWS::ECS::TaskDefinition", &td); err != nil {
		return nil, fail("service %s: %v", c.ServiceID, err)
	}
	i := slices.IndexFunc(td.ContainerDefinitions, func(d cfnContainer) bool { return d.Name == c.ContainerName })
	if i < 0 {
		return nil, fail("task definition %s has no container %q (named by service %s)", c.TaskDefinitionID, c.ContainerName, c.ServiceID)
	}
	def := td.ContainerDefinitions[i]

	var mapped []int
	for _, pm := range def.PortMappings {
		mapped = append(mapped, int(pm.ContainerPort))
	}
	switch {
	case len(mapped) == 0:
		return nil, fail("container %q of %s has no PortMappings", c.ContainerName, c.TaskDefinitionID)
	case !slices.Contains(mapped, serviceContainerPort):
		return nil, fail("service %s routes to port %d of container %q, whose PortMappings are %v", c.ServiceID, serviceContainerPort, c.ContainerName, mapped)
	}
	c.ContainerPort = serviceContainerPort
	if td.NetworkMode == "awsvpc" && c.ContainerPort != c.TargetPort {
		return nil, fail("awsvpc: container port %d differs from target group %s port %d, so the NLB would send traffic to a port nothing listens on",
			c.ContainerPort, c.TargetGroupID, c.TargetPort)
	}

	for _, s := range def.Secrets {
		c.Secrets = append(c.Secrets, s.Name)
	}
	for _, e := range def.Environment {
		var v string
		if e.Name == "PROXY_TRUSTED_CIDRS" && json.Unmarshal(e.Value, &v) != nil {
			// The VPC's range is a token in the template. Any range will
			// do here: the NLB stand-in connects from 127.0.0.1, which the
			// server always trusts (its own health check comes from there).
			c.Env = append(c.Env, e.Name+"=192.0.2.0/24")
			continue
		}
		if err := json.Unmarshal(e.Value, &v); err != nil {
			return nil, fail("container %q environment %s is %s, not a literal string", c.ContainerName, e.Name, e.Value)
		}
		switch {
		case slices.Contains(c.Secrets, e.Name):
			return nil, fail("container %q sets %s both as environment and as a secret", c.ContainerName, e.Name)
		case e.Name == "TLS_KEY" || e.Name == "TLS_CERT" || e.Name == "TLS_CLIENT_CA":
			return nil, fail("container %q has %s in plain Environment; it must come from Secrets", c.ContainerName, e.Name)
		case e.Name == "PORT":
			if v != strconv.Itoa(c.ContainerPort) {
				return nil, fail("container %q has PORT=%s but its load-balanced port is %d", c.ContainerName, v, c.ContainerPort)
			}
			continue // the test sets PORT itself
		}
		c.Env = append(c.Env, e.Name+"="+v)
	}

	c.StopTimeout = ecsDefaultStopTimeout
	if def.StopTimeout != nil {
		c.StopTimeout, c.StopTimeoutSet = time.Duration(*def.StopTimeout)*time.Second, true
	}
	if c.StopTimeout <= 0 {
		return nil, fail("container %q has StopTimeout %s", c.ContainerName, c.StopTimeout)
	}
	return c, nil
}
