# Passthrough's two commands:
#
#   make synth   synthesizes every example stack into cdk.out/
#   make test    runs actionlint, gofmt, go vet and every test (and, with
#                CI=true, a 30 s fuzzing round of the props validation),
#                and compiles and vets the deploy tests in test/integ
#
# Both first install the tools pinned in package.json into node_modules/: the
# AWS CDK CLI and a Node.js release that jsii supports (Node.js builds are
# published as npm packages). The machine's own Node.js, which only has to
# run npm, is left as it is, and so is the environment outside these
# commands. Go's own module download happens on first build.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

TOOLS := node_modules/.tools-installed

.PHONY: synth test lint fuzz tools clean integ-check

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
	$(MAKE) --no-print-directory integ-check
	@if [ "$${CI:-}" = "true" ]; then $(MAKE) --no-print-directory fuzz FUZZTIME=30s; fi

# The deploy tests (test/integ, a module of its own so that the AWS SDK never
# becomes a requirement of the library) need an AWS account to run; here
# they are compiled and vetted with their build tag, and their parts that
# need no AWS run as ordinary tests. Running them: docs/integ.md.
integ-check:
	cd test/integ && go vet -tags integ ./... && go test ./...

# Fuzzes the props validation: any panic other than a *ValidationError, or a
# synthesis error for props that passed validation, fails. New interesting
# inputs land in Go's cache; copy a failing one from the output into
# constructs/passthrough/testdata/fuzz/FuzzServiceProps to keep it.
fuzz: $(TOOLS)
	go test -run '^$$' -fuzz '^FuzzServiceProps$$' -fuzztime $(FUZZTIME) ./constructs/passthrough

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
