package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// admitToEndpoints lets tasks, the security group of a service at owner,
// reach the cluster's VPC interface endpoints, if it has them. Both rules
// are in the service's stack: aws-cdk-lib would put the endpoint group's
// ingress rule, which names the service's group, into the cluster's stack,
// and with a network stack that owns the cluster and service stacks that
// use it, each stack would then reference the other, which synthesis
// refuses ("'Net' depends on 'Svc'"). A service in the cluster's own stack
// keeps aws-cdk-lib's placement, and with it the rules' logical IDs.
func (c *Cluster) admitToEndpoints(owner constructs.Construct, tasks awsec2.ISecurityGroup) {
	if c.EndpointSecurityGroup == nil {
		return
	}
	if awscdk.Stack_Of(owner) == awscdk.Stack_Of(c) {
		c.allowEndpoints(tasks)
		return
	}
	endpoints := awsec2.SecurityGroup_FromSecurityGroupId(owner, jsii.String("EndpointSecurityGroup"), c.EndpointSecurityGroup.SecurityGroupId(), &awsec2.SecurityGroupImportOptions{
		AllowAllOutbound: jsii.Bool(false),
		Mutable:          jsii.Bool(true),
	})
	endpoints.Connections().AllowFrom(tasks, tcpPort(443), jsii.String("HTTPS to AWS through the VPC endpoints"))
}
