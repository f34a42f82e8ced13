package reach

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/passthrough-cdk/passthrough/internal/cfn"
)

// serviceName is a service's logical ID without aws-cdk-lib's hash and a
// trailing "Service", the name people gave the construct.
func serviceName(id string) string {
	name := cfn.ShortName(id)
	if trimmed := strings.TrimSuffix(name, "Service"); trimmed != "" {
		return trimmed
	}
	return name
}

// readServices reads each ECS service: where its targets run, as security
// groups and addresses see them, and the target groups it registers in.
func (a *analysis) readServices() {
	for _, r := range a.t.OfType(cfn.TypeService) {
		s := &Service{ID: r.ID, Name: serviceName(r.ID), Cluster: "default"}
		if v, ok := r.Props["Cluster"]; ok {
			s.Cluster = a.t.Key(v, "Arn")
		}
		td := a.t.Resource(a.t.Key(r.Props["TaskDefinition"]), cfn.TypeTaskDefinition)
		if td == nil && r.Props["TaskDefinition"] != nil {
			a.warnf("%s: task definition %s is not in the template", r.ID, cfn.Render(r.Props["TaskDefinition"]))
		}
		strategy := cfn.List(r.Props["CapacityProviderStrategy"])
		s.Launch, _ = cfn.Literal(r.Props["LaunchType"])
		if s.Launch == "" && len(strategy) == 0 {
			strategy = a.defaultStrategy(s.Cluster)
		}
		if s.Launch == "" {
			s.Launch = "EC2"
			for _, item := range strategy {
				if name, _ := cfn.Literal(cfn.Object(item)["CapacityProvider"]); strings.HasPrefix(name, "FARGATE") {
					s.Launch = "FARGATE"
				}
			}
		}
		awsvpc := cfn.Object(cfn.Object(r.Props["NetworkConfiguration"])["AwsvpcConfiguration"])
		s.NetworkMode = "bridge"
		if td != nil && td.Props["NetworkMode"] != nil {
			s.NetworkMode, _ = cfn.Literal(td.Props["NetworkMode"])
		} else if awsvpc != nil || s.Launch == "FARGATE" {
			s.NetworkMode = "awsvpc"
		}

		var wiring []Failure
		if s.NetworkMode == "awsvpc" {
			groups := a.groupKeys(awsvpc["SecurityGroups"])
			if len(groups) == 0 {
				wiring = append(wiring, Failure{HopWiring, fmt.Sprintf("service %s names no security group for its tasks, so ECS gives them the VPC's default security group", r.ID)})
			}
			var vpc any
			if len(groups) > 0 {
				vpc = a.groupVPC[groups[0]]
			}
			s.Placements = []Placement{{Where: "tasks", SecurityGroups: groups, addrs: a.subnetAddrs(cfn.List(awsvpc["Subnets"]), vpc)}}
		} else {
			var reason string
			s.Placements, reason = a.instancePlacements(s, strategy)
			if reason != "" {
				wiring = append(wiring, Failure{HopWiring, reason})
			}
		}
		a.r.Services = append(a.r.Services, s)

		for _, att := range cfn.ServiceAttachments(r) {
			reg := &registration{svc: s, targetGroup: a.t.Key(att.TargetGroup), container: att.Container, port: att.Port, failures: slices.Clone(wiring)}
			ports, failure := a.targetPorts(s, td, reg.container, reg.port)
			reg.targetPorts = ports
			if failure != "" {
				reg.failures = append(reg.failures, Failure{HopWiring, failure})
			}
			a.regs = append(a.regs, reg)
		}
	}
}

// refersTo reports whether v refers to the resource id anywhere, through Ref
// or Fn::GetAtt: user data that writes ECS_CLUSTER from the cluster's Ref
// registers its instances with that cluster.
func refersTo(v any, id string) bool {
	return slices.ContainsFunc(cfn.Refs(v), func(r cfn.Ref) bool { return r.ID == id })
}

// targetPorts is the port range that a service's targets receive traffic
// for container:port on.
func (a *analysis) targetPorts(s *Service, td *cfn.Resource, container string, port int) (PortRange, string) {
	if td == nil {
		if s.NetworkMode == "awsvpc" {
			return Port(port), ""
		}
		return dynamicRange(s), ""
	}
	var def map[string]any
	for _, c := range cfn.List(td.Props["ContainerDefinitions"]) {
		if name, _ := cfn.Literal(cfn.Object(c)["Name"]); name == container {
			def = cfn.Object(c)
		}
	}
	if def == nil {
		return Port(port), fmt.Sprintf("task definition %s has no container %q", td.ID, container)
	}
	for _, pm := range cfn.List(def["PortMappings"]) {
		pm := cfn.Object(pm)
		if cp, _ := cfn.Integer(pm["ContainerPort"]); cp != port {
			continue
		}
		host, hasHost := cfn.Integer(pm["HostPort"])
		switch s.NetworkMode {
		case "awsvpc":
			return Port(port), ""
		case "host":
			if hasHost && host != 0 {
				return Port(host), ""
			}
			return Port(port), ""
		}
		if hasHost && host != 0 {
			return Port(host), ""
		}
		return dynamicRange(s), ""
	}
	return Port(port), fmt.Sprintf("container %q of task definition %s maps no container port %d", container, td.ID, port)
}

// dynamicRange is the range of dynamic host ports on any instance a
// bridge-mode service may run on.
func dynamicRange(s *Service) PortRange {
	r := DynamicPorts
	for i, p := range s.Placements {
		if i == 0 {
			r = p.dynamic
			continue
		}
		r = PortRange{min(r.From, p.dynamic.From), max(r.To, p.dynamic.To)}
	}
	return r
}

// defaultStrategy is the cluster's default capacity provider strategy,
// which ECS uses for services with neither a launch type nor a strategy.
func (a *analysis) defaultStrategy(cluster string) []any {
	for _, r := range a.t.OfType(cfn.TypeClusterAssociations) {
		if a.t.Key(r.Props["Cluster"], "Arn") == cluster {
			if s := cfn.List(r.Props["DefaultCapacityProviderStrategy"]); len(s) > 0 {
				return s
			}
		}
	}
	if c := a.t.Resource(cluster, cfn.TypeCluster); c != nil {
		return cfn.List(c.Props["DefaultCapacityProviderStrategy"])
	}
	return nil
}

// instancePlacements finds the container instances a bridge or host
// service's tasks may run on: the Auto Scaling groups of the capacity
// providers in its strategy or, with the EC2 launch type, every group whose
// instances join its cluster (through a capacity provider associated with
// the cluster, or user data that writes the cluster into ECS_CLUSTER).
func (a *analysis) instancePlacements(s *Service, strategy []any) ([]Placement, string) {
	var asgs []string
	add := func(id string) {
		if !slices.Contains(asgs, id) {
			asgs = append(asgs, id)
		}
	}
	if len(strategy) > 0 {
		for _, item := range strategy {
			v := cfn.Object(item)["CapacityProvider"]
			if name, _ := cfn.Literal(v); strings.HasPrefix(name, "FARGATE") {
				continue
			}
			cp := a.capacityProvider(v)
			if cp == nil {
				return nil, fmt.Sprintf("capacity provider %s of service %s is not in the template, so its instances' security groups are unknown", cfn.Render(v), s.ID)
			}
			add(a.t.Key(cfn.Object(cp.Props["AutoScalingGroupProvider"])["AutoScalingGroupArn"]))
		}
	} else {
		var providers []any
		for _, r := range a.t.OfType(cfn.TypeClusterAssociations) {
			if a.t.Key(r.Props["Cluster"], "Arn") == s.Cluster {
				providers = append(providers, cfn.List(r.Props["CapacityProviders"])...)
			}
		}
		if c := a.t.Resource(s.Cluster, cfn.TypeCluster); c != nil {
			providers = append(providers, cfn.List(c.Props["CapacityProviders"])...)
		}
		for _, v := range providers {
			if cp := a.capacityProvider(v); cp != nil {
				add(a.t.Key(cfn.Object(cp.Props["AutoScalingGroupProvider"])["AutoScalingGroupArn"]))
			}
		}
		for _, asg := range a.t.OfType(cfn.TypeAutoScalingGroup) {
			if _, userData := a.launchConfig(asg); a.t.Lookup(s.Cluster) != nil && refersTo(userData, s.Cluster) {
				add(asg.ID)
			}
		}
	}
	if len(asgs) == 0 {
		return nil, fmt.Sprintf("no Auto Scaling group in the template runs the container instances of cluster %s for service %s", s.Cluster, s.ID)
	}
	slices.Sort(asgs)
	var out []Placement
	for _, id := range asgs {
		asg := a.t.Resource(id, cfn.TypeAutoScalingGroup)
		if asg == nil {
			return nil, fmt.Sprintf("Auto Scaling group %s of service %s is not in the template, so its instances' security groups are unknown", id, s.ID)
		}
		groups, userData := a.launchConfig(asg)
		if len(groups) == 0 {
			return nil, fmt.Sprintf("the launch template of Auto Scaling group %s names no security group, so service %s's instances get the VPC's default security group", id, s.ID)
		}
		p := Placement{Where: id, SecurityGroups: groups, dynamic: DynamicPorts}
		var vpc any = a.groupVPC[groups[0]]
		p.addrs = a.subnetAddrs(cfn.List(asg.Props["VPCZoneIdentifier"]), vpc)
		if r, ok := hostPortRange(cfn.JoinedLiterals(userData)); ok {
			p.dynamic = r
		}
		out = append(out, p)
	}
	return out, ""
}

func (a *analysis) capacityProvider(v any) *cfn.Resource {
	if id, ok := a.t.RefTarget(v); ok {
		return a.t.Resource(id, cfn.TypeCapacityProvider)
	}
	if name, ok := cfn.Literal(v); ok {
		for _, r := range a.t.OfType(cfn.TypeCapacityProvider) {
			if n, _ := cfn.Literal(r.Props["Name"]); n == name {
				return r
			}
		}
	}
	return nil
}

// launchConfig returns the security groups and user data an Auto Scaling
// group launches its instances with, from its launch template (directly or
// in a mixed instances policy) or launch configuration.
func (a *analysis) launchConfig(asg *cfn.Resource) (groups []string, userData any) {
	spec := cfn.Object(asg.Props["LaunchTemplate"])
	if spec == nil {
		spec = cfn.Object(cfn.Object(cfn.Object(asg.Props["MixedInstancesPolicy"])["LaunchTemplate"])["LaunchTemplateSpecification"])
	}
	if spec != nil {
		lt := a.launchTemplate(spec)
		if lt == nil {
			return nil, nil
		}
		data := cfn.Object(lt.Props["LaunchTemplateData"])
		groups = a.groupKeys(data["SecurityGroupIds"])
		for _, v := range cfn.List(data["SecurityGroups"]) {
			if name, ok := cfn.Literal(v); ok {
				groups = append(groups, a.groupNamed(name))
			}
		}
		for _, ni := range cfn.List(data["NetworkInterfaces"]) {
			groups = append(groups, a.groupKeys(cfn.Object(ni)["Groups"])...)
		}
		return groups, data["UserData"]
	}
	if id, ok := a.t.RefTarget(asg.Props["LaunchConfigurationName"]); ok {
		if lc := a.t.Resource(id, cfn.TypeLaunchConfiguration); lc != nil {
			return a.groupKeys(lc.Props["SecurityGroups"]), lc.Props["UserData"]
		}
	}
	return nil, nil
}

func (a *analysis) launchTemplate(spec map[string]any) *cfn.Resource {
	if id, ok := a.t.RefTarget(spec["LaunchTemplateId"]); ok {
		return a.t.Resource(id, cfn.TypeLaunchTemplate)
	}
	if id, ok := a.t.RefTarget(spec["LaunchTemplateName"]); ok {
		return a.t.Resource(id, cfn.TypeLaunchTemplate)
	}
	if name, ok := cfn.Literal(spec["LaunchTemplateName"]); ok {
		for _, r := range a.t.OfType(cfn.TypeLaunchTemplate) {
			if n, _ := cfn.Literal(r.Props["LaunchTemplateName"]); n == name {
				return r
			}
		}
	}
	return nil
}

var hostPortSetting = regexp.MustCompile(`ECS_DYNAMIC_HOST_PORT_RANGE=(\d+)-(\d+)`)

// hostPortRange reads ECS_DYNAMIC_HOST_PORT_RANGE from user data.
func hostPortRange(userData string) (PortRange, bool) {
	m := hostPortSetting.FindStringSubmatch(userData)
	if m == nil {
		return PortRange{}, false
	}
	from, _ := strconv.Atoi(m[1])
	to, _ := strconv.Atoi(m[2])
	return PortRange{from, to}, from <= to
}
