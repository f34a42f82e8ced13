# Passthrough's two commands:
#
#   make synth   synthesizes every example stack into cdk.out/
#   make test    runs actionlint, gofmt, go vet and every test (and, with
#                CI=true, a 30 s fuzzing round of the props validation)
#
# and `make templates` tests the `cdk init` templates in templates/ (minutes:
# each generated app links aws-cdk-go again).
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

.PHONY: synth test lint fuzz templates tools clean

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
	@if [ "$${CI:-}" = "true" ]; then $(MAKE) --no-print-directory fuzz FUZZTIME=30s; fi

# Fuzzes the props validation: any panic other than a *ValidationError, or a
# synthesis error for props that passed validation, fails. New interesting
# inputs land in Go's cache; copy a failing one from the output into
# constructs/passthrough/testdata/fuzz/FuzzServiceProps to keep it.
fuzz: $(TOOLS)
	go test -run '^$$' -fuzz '^FuzzServiceProps$$' -fuzztime $(FUZZTIME) ./constructs/passthrough

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
	go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
	go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 templates/*/go/.github/workflows/*.yml

tools: $(TOOLS)

$(TOOLS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@node --version && cdk --version
	@touch $@

clean:
	rm -rf cdk.out node_modules
