module github.com/passthrough-cdk/passthrough/functions

go 1.26.0

require github.com/aws/aws-lambda-go v1.55.1
