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
// Every constructor takes (scope, id, props) like the constructs of aws-cdk-go
// and returns a construct that can itself be used as a scope. Invalid props
// make the constructor panic with a [*ValidationError] that names the
// construct path and the offending value, before any resource is created.
package passthrough
