module service-to-service

go 1.26.0

require (
	github.com/aws/aws-cdk-go/awscdk/v2 v2.275.0
	github.com/aws/constructs-go/constructs/v10 v10.8.1
	github.com/aws/jsii-runtime-go v1.142.0
	github.com/cdklabs/cdk-nag-go/cdknag/v2 v2.38.2
	github.com/passthrough-cdk/passthrough v0.1.0
)

ignore (
	./cdk.out
	./node_modules
)
