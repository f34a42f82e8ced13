package passthrough

import (
	_ "embed"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"
)

// privateAddressesCode is the lookup function's handler, inline in the
// template (CloudFormation takes up to 4096 characters of inline code). It
// is tested by running it with Node.js against a stub of EC2 and a local
// response endpoint (privateaddresses_test.go).
//
//go:embed privateaddresses.js
var privateAddressesCode string

// IDs, under the stack, of the private address lookup: one function, its
// role and its log group per stack, shared by every AddPrivateDNSName.
const (
	privateAddressLookupID     = "PassthroughPrivateAddressLookup"
	privateAddressLookupRoleID = "PassthroughPrivateAddressLookupRole"
	privateAddressLookupLogsID = "PassthroughPrivateAddressLookupLogs"
)

// How long the lookup waits for the network interfaces: the handler looks
// up to 12 times, 10 s apart, which the function's timeout covers.
const privateAddressLookupTimeout = 180

// addPrivateAddresses looks up the private IPv4 address of the load
// balancer's network interface in each of its subnets, whose description is
// "ELB " + the load balancer's full name (net/NAME/ID), and writes them, in
// the subnets' order, as an A record (docs/network.md, "Architecture 3: the
// private path", cites the ELB guide). The custom resource's properties hold
// that full name and the subnets, so CloudFormation runs the lookup again
// whenever the load balancer is replaced or its subnets change.
func (lb *LoadBalancer) addPrivateAddresses(zone awsroute53.IHostedZone, recordName string) awsroute53.ARecord {
	// aws-cdk-lib has already refused a load balancer whose subnets are
	// not known at synth time.
	subnets := lb.Vpc.SelectSubnets(lb.subnets).SubnetIds
	lookup := awscdk.NewCustomResource(lb, recordID("PrivateAddressLookup", zone, recordName), &awscdk.CustomResourceProps{
		ServiceToken: privateAddressLookup(awscdk.Stack_Of(lb)).FunctionArn(),
		ResourceType: jsii.String("Custom::PassthroughPrivateAddresses"),
		// A handler that never answers would hold the stack for an hour,
		// CloudFormation's default; the function itself stops earlier.
		ServiceTimeout: seconds(privateAddressLookupTimeout + 60),
		Properties: &map[string]any{
			"LoadBalancerFullName": lb.nlb.LoadBalancerFullName(),
			"Subnets":              subnets,
		},
	})
	addresses := make([]*string, len(*subnets))
	for i := range addresses {
		addresses[i] = lookup.GetAttString(jsii.String(fmt.Sprintf("Address%d", i)))
	}
	return awsroute53.NewARecord(lb, recordID("PrivateAddresses", zone, recordName+" record"), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(recordName),
		Target:     awsroute53.RecordTarget_FromIpAddresses(addresses...),
		Ttl:        seconds(PrivateDNSTTL),
	})
}

// privateAddressLookup is the stack's lookup function, created with the
// first AddPrivateDNSName of an internet-facing load balancer in it. Its
// role may read network interfaces in the stack's Region and write to the
// function's own log group, nothing else; no AWS managed policy.
func privateAddressLookup(stack awscdk.Stack) awslambda.IFunction {
	if existing, ok := stack.Node().TryFindChild(jsii.String(privateAddressLookupID)).(awslambda.IFunction); ok {
		return existing
	}
	logs := awslogs.NewLogGroup(stack, jsii.String(privateAddressLookupLogsID), &awslogs.LogGroupProps{
		Retention:     defaultLogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(stack, jsii.String(privateAddressLookupRoleID), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Passthrough private address lookup: reads network interfaces, writes its own logs"),
	})
	// DescribeNetworkInterfaces supports no resource-level permissions and
	// no condition keys of its own; the Region is all it can be narrowed by.
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ec2:DescribeNetworkInterfaces"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:RequestedRegion": *awscdk.Aws_REGION()},
		},
	}))
	logs.GrantWrite(role)
	if policy := role.Node().TryFindChild(jsii.String("DefaultPolicy")); policy != nil {
		suppressNag(policy, nagSuppression{
			id:        "AwsSolutions-IAM5",
			reason:    "ec2:DescribeNetworkInterfaces supports no resource-level permissions, so it can only be granted on *; the statement is limited to this one read-only action in the stack's Region",
			appliesTo: []string{"Resource::*"},
		})
	}
	return awslambda.NewFunction(stack, jsii.String(privateAddressLookupID), &awslambda.FunctionProps{
		Description: jsii.String("Passthrough: private addresses of internet-facing Network Load Balancers, one per subnet, from their network interfaces"),
		Runtime:     awslambda.Runtime_NODEJS_24_X(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String(privateAddressesCode)),
		Timeout:     seconds(privateAddressLookupTimeout),
		Role:        role,
		LogGroup:    logs,
	})
}
