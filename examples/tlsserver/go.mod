module github.com/passthrough-cdk/passthrough/examples/tlsserver

go 1.26.0

require github.com/pires/go-proxyproto v0.15.0
