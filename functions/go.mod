module github.com/passthrough-cdk/passthrough/functions

go 1.26.0
