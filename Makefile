# Passthrough's commands:
#
#   make synth   synthesizes every example stack into cdk.out/
#   make test    runs actionlint, gofmt, go vet and every test (and, with
#                CI=true, a 30 s fuzzing round of the props validation),
#                in the root module and in the example TLS server's own
#                module, examples/tlsserver
#   make attack  runs the example TLS server's full attack suite on loopback
#                and prints its figures (Go only, no tools)
#
# synth and test first install the tools pinned in package.json into
# node_modules/: the AWS CDK CLI and a Node.js release that jsii supports
# (Node.js builds are published as npm packages). The machine's own
# Node.js, which only has to run npm, is left as it is, and so is the
# environment outside these commands. Go's own module download happens on
# first build.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

TOOLS := node_modules/.tools-installed

# The example TLS server is a module of its own, so that its dependencies
# are not requirements of the library's go.mod; ./... at the root does not
# descend into it.
TLSSERVER := examples/tlsserver

.PHONY: synth test lint fuzz attack tools clean

# How long `make fuzz` explores the props validation; CI (CI=true) runs a
# shorter round as part of `make test`.
FUZZTIME ?= 60s

synth: $(TOOLS)
	cdk synth --quiet --no-notices
	@echo "Templates written to cdk.out/:" && ls cdk.out/*.template.json

test: lint $(TOOLS)
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	go test ./...
	cd $(TLSSERVER) && go vet ./... && go test ./...
	@if [ "$${CI:-}" = "true" ]; then $(MAKE) --no-print-directory fuzz FUZZTIME=30s; fi

# Fuzzes the props validation: any panic other than a *ValidationError, or a
# synthesis error for props that passed validation, fails. New interesting
# inputs land in Go's cache; copy a failing one from the output into
# constructs/passthrough/testdata/fuzz/FuzzServiceProps to keep it.
fuzz: $(TOOLS)
	go test -run '^$$' -fuzz '^FuzzServiceProps$$' -fuzztime $(FUZZTIME) ./constructs/passthrough

# Runs the example TLS server's full attack suite on loopback (about a
# minute on two cores): thousands of idle connections, hundreds of stalled
# requests, hostile client chains and garbage against the server binary,
# with the figures examples/tlsserver/README.md records. make test runs a
# small version of it.
attack:
	cd $(TLSSERVER) && TLSSERVER_ATTACK=full go test -count=1 -run '^(TestAttack|TestHandshakeCapacity)$$' -v -timeout 10m .

# actionlint checks every workflow in .github/workflows (and, where
# shellcheck is installed, their run: scripts). It runs at a pinned version
# through `go run` and is not in go.mod: a library's go.mod requirements are
# forced on every module that uses it.
lint:
	go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

tools: $(TOOLS)

$(TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@node --version && cdk --version
	@touch $@

clean:
	rm -rf cdk.out node_modules
