# Passthrough's commands:
#
#   make synth      synthesizes every example stack into cdk.out/
#   make test       runs actionlint, gofmt, go vet and every test, in the
#                   root module and in the example TLS server's own module
#                   (examples/tlsserver), and compiles and vets the deploy
#                   tests in test/integ; the same with or without CI=true,
#                   and nothing in it depends on time
#
# and, outside the gate:
#
#   make templates  tests the `cdk init` templates in templates/ (minutes:
#                   each generated app links aws-cdk-go again)
#   make attack     runs the example TLS server's full attack suite on
#                   loopback and prints its figures (Go only, no tools)
#   make fuzz       explores the props validation with Go's fuzzer
#
# synth, test and templates first install the tools pinned in package.json
# into node_modules/: the AWS CDK CLI, a Node.js release that jsii
# supports (Node.js builds are published as npm packages), and for the
# tests @aws-cdk/cloudformation-diff (internal/upgrade),
# @cdklabs/cdk-validator-cfnguard, whose cfn-guard binary and AWS Control
# Tower rules they run on every template, and cdk-nag v3, whose Go module is
# not published where this project builds (.npmrc says why their peer
# dependencies are not installed). The machine's own
# Node.js, which only has to run npm, is left as it is, and so is the
# environment outside these commands. Go's own module download happens on
# first build.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

TOOLS := node_modules/.tools-installed

# The example TLS server is a module of its own, so that its dependencies
# are not requirements of the library's go.mod; ./... at the root does not
# descend into it, nor into test/integ or templates.
TLSSERVER := examples/tlsserver

.PHONY: synth test lint format test-root vet-root functions-warm test-tlsserver test-functions integ-check fuzz attack templates tools clean

# How many inputs `make fuzz` tries on the props validation (about a minute
# on 2 cores). A count, not a duration: Go 1.26's fuzzing coordinator can
# report a spurious "context deadline exceeded" failure when a -fuzztime
# duration runs out while a worker is mid-input (golang/go#75804, fixed in
# Go 1.27), and this target's inputs are slow (each synthesizes a stack).
# Not part of `make test` (docs/ci.md says why); .github/workflows/fuzz.yml
# runs a longer round nightly.
FUZZTIME ?= 2000x

synth: $(TOOLS)
	cdk synth --quiet --no-notices
	@echo "Templates written to cdk.out/:" && ls cdk.out/*.template.json

# The parts of the gate run side by side, each printing its output when it
# ends (-O): the root module's tests spend most of their time in jsii's
# Node.js process, one core each, and the TLS server's tests mostly wait on
# deadlines, so the compile of another module fills the gaps (docs/ci.md has
# the figures).
test: $(TOOLS)
	$(MAKE) --no-print-directory -j4 -O lint format test-root test-tlsserver test-functions integ-check

# The longest chain of the gate is the root module's: go vet compiles
# aws-cdk-go, then the two test binaries link and synthesize through jsii.
# The parts off that chain (actionlint's compile, the deploy tests' AWS SDK
# compile, the functions' unit tests) run at the lowest CPU priority, so that on 2
# cores they fill the time the chain leaves idle instead of slowing it.
# Not the TLS server's tests: they measure deadlines.
BACKGROUND := nice -n 19

format:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi

# -count=1: every run runs every test. Go caches a passing result against
# the Go files and the files the test opens itself, but not what jsii's
# Node.js process reads (node_modules, aws-cdk-lib), so a cached pass could
# outlive the tools it was run with.
test-root: $(TOOLS) vet-root functions-warm
	go test -count=1 ./...

vet-root:
	go vet ./...

# Compiles the Lambda functions for Lambda's platform as internal/gofunc
# does at synth (same GOOS, GOARCH, cgo, -trimpath and tags, so the same
# build cache entries), beside go vet and before the root module's tests:
# otherwise the two test binaries that synthesize them would each compile
# the AWS SDK and a linux/arm64 standard library at the same moment on a
# cold cache (about 15 s of a core, twice).
functions-warm:
	cd functions && GOOS=linux GOARCH=arm64 CGO_ENABLED=0 GOWORK=off go build -trimpath -buildvcs=false -tags lambda.norpc ./...

test-tlsserver:
	cd $(TLSSERVER) && go vet ./... && go test -count=1 ./...

# The Lambda functions' module (functions/, its own go.mod): vet and unit
# tests on fake AWS clients; the constructs' tests build the functions too.
test-functions:
	cd functions && $(BACKGROUND) go vet ./... && $(BACKGROUND) go test -count=1 ./...

# The deploy tests (test/integ, a module of its own so that the AWS SDK never
# becomes a requirement of the library) need an AWS account to run; here
# they are compiled and vetted with their build tag, and their parts that
# need no AWS run as ordinary tests. Running them: docs/integ.md.
integ-check:
	cd test/integ && $(BACKGROUND) go vet -tags integ ./... && $(BACKGROUND) go test -count=1 ./...

# Fuzzes the props validation: any panic other than a *ValidationError, or a
# synthesis error for props that passed validation, fails. A failing input
# is written to constructs/passthrough/testdata/fuzz/FuzzServiceProps: commit
# it, and the seed corpus that `make test` runs keeps it for good. One worker
# (-parallel 1): every worker starts its own jsii kernel, a Node.js process
# that loads aws-cdk-lib, and a second one on 2 cores only adds contention.
fuzz: $(TOOLS)
	go test -run '^$$' -fuzz '^FuzzServiceProps$$' -fuzztime $(FUZZTIME) -parallel 1 ./constructs/passthrough

# Runs the example TLS server's full attack suite on loopback (about a
# minute on two cores): thousands of idle connections, hundreds of stalled
# requests, hostile client chains and garbage against the server binary,
# with the figures examples/tlsserver/README.md records. make test runs a
# small version of it.
attack:
	cd $(TLSSERVER) && TLSSERVER_ATTACK=full go test -count=1 -run '^(TestAttack|TestHandshakeCapacity)$$' -v -timeout 10m .

# Creates an app from every template in templates/ with `cdk init`, as a new
# user would, runs the app's own tests and `cdk synth`, and compares its
# stacks with the example stacks (docs/templates.md). UPDATE=1 rewrites each
# template's snapshots in testdata/ from its generated app.
templates: $(TOOLS)
	cd templates && go test -count=1 -timeout 60m -v ./... $(if $(UPDATE),-update)

# actionlint checks every workflow in .github/workflows and the templates'
# (and, where shellcheck is installed, their run: scripts). It runs at a
# pinned version through `go run` and is not in go.mod: a library's go.mod
# requirements are forced on every module that uses it.
lint:
	$(BACKGROUND) go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
	$(BACKGROUND) go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 templates/*/go/.github/workflows/*.yml

tools: $(TOOLS)

$(TOOLS): package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund --loglevel=error
	@node --version && cdk --version
	@touch $@

clean:
	rm -rf cdk.out node_modules
