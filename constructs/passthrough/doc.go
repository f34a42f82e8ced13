// Package passthrough provides AWS CDK constructs that put Amazon ECS services
// behind a Network Load Balancer whose TCP listeners pass TLS through untouched,
// so that TLS ends inside the container and never at the load balancer.
//
// A stack needs three calls: [NewCluster] for the VPC and ECS cluster (Fargate,
// or EC2 with dynamic host ports), [NewLoadBalancer] for the shared NLB and its
// security group, and one [NewFargateService] or [NewEC2Service] per service,
// which adds the service's TCP listener, target group and both sides of the
// security group rules so that the service is reachable through its listener
// and through nothing else.
//
// Beyond one load balancer and its services: [Service.GrantConnect] lets one
// service call another through the callee's load balancer, with exactly the
// two security group rules of that path; [LoadBalancer.AddPrivateDNSName]
// gives a load balancer a stable private name (for an internet-facing one,
// its private addresses); [NewEndpointService] offers a load balancer to other
// VPCs and accounts through PrivateLink; [ImportLoadBalancer] attaches
// services to a load balancer of another app. Services come with alarms, an
// optional TLS-aware container health check and auto scaling.
//
// Every constructor takes (scope, id, props) like the constructs of aws-cdk-go
// and returns a construct that can itself be used as a scope. Invalid props
// make the constructor panic with a [*ValidationError] that names the
// construct path and the offending value, before any resource is created.
//
// Exported names write initialisms in upper case (TLS, DNS, NLB, EC2, CPU,
// ARN, ID), except Vpc and NatGateways, which are spelled as aws-cdk-go
// spells the same props (Vpc and VpcSubnets in its constructs' props,
// awsec2.VpcProps.NatGateways), so that they read the same at a call site
// that mixes both.
package passthrough
