package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
)

// CloudFormation creates a resource after those it depends on and deletes it
// before them; without a dependency it may do either in parallel. What a
// service's tasks and the EC2 capacity's instances need to reach AWS (the
// ECS agent's endpoints, ECR and S3 for images, Secrets Manager, CloudWatch
// Logs) must therefore be something they depend on: otherwise a stack
// deletion may remove the VPC endpoints or the NAT routes while ECS still
// stops tasks and drains instances, whose agents then lose ECS, and a
// creation may start tasks that cannot pull their image yet.

// natRoutes are the default routes of vpc's private subnets to its NAT
// gateways: each subnet's InternetConnectivityEstablished, which aws-cdk-lib
// fills with that route when the VPC is defined in the app. Isolated
// subnets have none, and an imported VPC's are empty: its routes are its
// owner's to order.
func natRoutes(vpc awsec2.IVpc) []constructs.IDependable {
	var out []constructs.IDependable
	for _, subnet := range *vpc.PrivateSubnets() {
		out = append(out, subnet.InternetConnectivityEstablished())
	}
	return out
}

// orderAfterEgress makes dependent wait for the cluster's way out to AWS:
// the VPC endpoints the cluster created and its VPC's NAT routes. Endpoints
// of a VPC given to the cluster are the VPC owner's to order.
func (c *Cluster) orderAfterEgress(dependent constructs.IConstruct) {
	if len(c.egress) > 0 {
		dependent.Node().AddDependency(c.egress...)
	}
}

// orderServiceAfterEgress is orderAfterEgress for an ECS service: the
// CloudFormation service alone waits, not the scaling resources beneath
// the construct.
func (c *Cluster) orderServiceAfterEgress(svc awsecs.BaseService) {
	c.orderAfterEgress(svc.Node().DefaultChild())
}
