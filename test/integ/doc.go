// Package integ is Passthrough's deploy test suite: it deploys every example
// stack to a real AWS account and checks on the running system what the
// other tests can only check on templates and on loopback. docs/integ.md
// says how to run it, what it needs and what it costs.
//
// The suite lives in a module of its own, so that the AWS SDK for Go never
// appears among the library's requirements, and its deploying tests carry
// the build tag integ, so that `go test ./...` never deploys:
//
//	cd test/integ && go test -tags integ -timeout 4h -run TestExamples .
//
// Everything that needs no AWS account is a plain function of this package
// with ordinary unit tests, run by `make test` without the tag: the path
// planner on the golden templates, the probe's result line, the target
// health timelines and the measurements file, the alarm plan, the clean-up
// planner and the sweeper on recorded API answers (testdata, written by
// hand from the API references; its README says which parts are recorded).
// The tagged files (*_integ_test.go) only call AWS and these functions.
//
// # One run
//
// A run has an ID (RunID) that suffixes every stack name and tags every
// resource it makes. For each group of stacks (Groups), in parallel:
//
//  1. a throwaway certificate from the example server's -gen-cert, stored
//     in a Secrets Manager secret;
//  2. cdk deploy of the run's synthesized assembly, with the secret's ARN,
//     while the target groups are sampled for the creation times (and, for
//     PrivateLink, the consumer's endpoint connection accepted);
//  3. every target group has only healthy targets;
//  4. every listener path serves the certificate (SHA-256 of the leaf),
//     with mutual TLS where the service requires it: from the test process
//     for internet-facing listeners, from a one-off ECS task of the example
//     server in -probe mode, run as the calling service, for paths inside a
//     VPC (PlanPaths); a listener of an internet-facing load balancer that
//     admits no internet client must refuse the test process;
//  5. a forced new deployment of every service completes while a bounded
//     client loop keeps connecting, with no failed connection; its time is
//     recorded beside the rollout model's (internal/rollout);
//  6. certificate rotation: a new secret value and a new deployment, then
//     step 4 again with the new fingerprint;
//  7. every alarm with an SNS action notifies its topic: SetAlarmState, and
//     the message arrives on a temporary SQS queue subscribed to it;
//  8. always, also after a failure: everything the group made is deleted
//     (PlanCleanup, Cleaner), and what could not be is named.
//
// Before the groups, the sweeper (Sweeper) deletes what runs older than
// -sweep-age left behind. With -write-measurements the measured times go to
// docs/measurements.json, which docs/rollout.md shows.
package integ
