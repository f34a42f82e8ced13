module github.com/passthrough-cdk/passthrough/examples/tlsserver

go 1.26.0
