module github.com/passthrough-cdk/passthrough/templates

go 1.26.0
