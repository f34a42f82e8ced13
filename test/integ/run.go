package integ

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// TagKey is the tag every resource of a run carries, with the run's ID as
// value: the stacks (CloudFormation propagates stack tags to the resources
// that support them), the certificate secrets and the SQS queues. The
// sweeper finds what an interrupted run left behind by it.
const TagKey = "passthrough:integ-run"

// RunID names one run of the suite: "it", the UTC date and time it started
// to the minute, and four random hex digits, such as "it260102-0304-ab12".
// It is the stack-name suffix (after a hyphen), so it keeps to what a
// CloudFormation stack name allows, and the time in it lets the sweeper
// tell an abandoned run from one still going without asking anyone.
type RunID string

// runIDPattern matches a RunID anywhere in a name, between hyphens or at
// its end.
var runIDPattern = regexp.MustCompile(`(?:^|-)(it\d{6}-\d{4}-[0-9a-f]{4})(?:-|$)`)

// NewRunID makes the ID of a run started at now, with random digits from
// random (crypto/rand.Reader when nil).
func NewRunID(now time.Time, random io.Reader) (RunID, error) {
	if random == nil {
		random = rand.Reader
	}
	b := make([]byte, 2)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", err
	}
	return RunID("it" + now.UTC().Format("060102-1504") + "-" + hex.EncodeToString(b)), nil
}

// ParseRunID checks s and returns the time its run started.
func ParseRunID(s string) (RunID, time.Time, error) {
	m := runIDPattern.FindStringSubmatch(s)
	if m == nil || m[1] != s {
		return "", time.Time{}, fmt.Errorf("%q is not a run ID (itYYMMDD-HHMM-xxxx)", s)
	}
	t, err := time.Parse("060102-1504", s[2:13])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%q is not a run ID: %w", s, err)
	}
	return RunID(s), t, nil
}

// RunIn finds the run ID in a resource name made from a suffixed stack
// name, such as a retained log group "PassthroughX-it260102-0304-ab12-ApiLogs-1A2B".
func RunIn(name string) (RunID, bool) {
	m := runIDPattern.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	return RunID(m[1]), true
}

// Started returns when the run started; the zero time for a malformed ID.
func (r RunID) Started() time.Time {
	_, t, err := ParseRunID(string(r))
	if err != nil {
		return time.Time{}
	}
	return t
}

// Suffix is the context value stackNameSuffix of the example app
// (examples/stacks.StackNameSuffixContextKey).
func (r RunID) Suffix() string { return "-" + string(r) }

// maxStackName is CloudFormation's limit on a stack name.
const maxStackName = 128

var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)

// StackName is the CloudFormation name of example stack base in this run.
func (r RunID) StackName(base string) (string, error) {
	name := base + r.Suffix()
	if len(name) > maxStackName || !stackNamePattern.MatchString(name) {
		return "", fmt.Errorf("stack name %q: want letters, digits and hyphens, starting with a letter, at most %d characters", name, maxStackName)
	}
	return name, nil
}

// StartedBy is the startedBy of the run's probe tasks, which ListTasks can
// filter on; ECS allows 36 characters.
func (r RunID) StartedBy() string { return "integ-" + string(r) }

// SecretName is the name of the certificate secret of one group of stacks.
func (r RunID) SecretName(group string) string { return "passthrough-integ/" + string(r) + "/" + group }

// QueuePrefix starts the name of every queue of every run.
const QueuePrefix = "passthrough-integ-"

// QueueName is the name of the SQS queue that receives one group's alarm
// notifications; SQS allows 80 characters.
func (r RunID) QueueName(group string) string {
	name := QueuePrefix + string(r) + "-" + strings.ToLower(group)
	return name[:min(len(name), 80)]
}
