package integ

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// The clean-up works against these small interfaces, which the SDK's
// clients satisfy and the tests' fakes implement from recorded answers.
type (
	StackAPI interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
		DescribeStackResources(context.Context, *cloudformation.DescribeStackResourcesInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourcesOutput, error)
		DeleteStack(context.Context, *cloudformation.DeleteStackInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	}
	SecretAPI interface {
		ListSecrets(context.Context, *secretsmanager.ListSecretsInput, ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
		DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
	}
	QueueAPI interface {
		ListQueues(context.Context, *sqs.ListQueuesInput, ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error)
		ListQueueTags(context.Context, *sqs.ListQueueTagsInput, ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error)
		DeleteQueue(context.Context, *sqs.DeleteQueueInput, ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
	}
	LogAPI interface {
		DescribeLogGroups(context.Context, *cloudwatchlogs.DescribeLogGroupsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error)
		DeleteLogGroup(context.Context, *cloudwatchlogs.DeleteLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error)
	}
	TaskAPI interface {
		ListTasks(context.Context, *ecs.ListTasksInput, ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
		StopTask(context.Context, *ecs.StopTaskInput, ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
	}
	SubscriptionAPI interface {
		Unsubscribe(context.Context, *sns.UnsubscribeInput, ...func(*sns.Options)) (*sns.UnsubscribeOutput, error)
	}
)

// Inventory is everything of one run that must go: what the suite created
// itself (secrets, queues, subscriptions) and the stacks, with what
// outlives a stack's deletion.
type Inventory struct {
	Run RunID
	// Stacks in the order they must be deleted: a stack before the stacks
	// it depends on (the PrivateLink consumer before its provider).
	Stacks        []StackInventory
	Subscriptions []string
	Queues        []string // URLs
	Secrets       []string // ARNs or names
	// LogGroups are log groups found outside any stack.
	LogGroups []string
}

// StackInventory is one stack and what its deletion leaves or needs.
type StackInventory struct {
	Name string
	// Clusters whose tasks the run started (probe tasks) must be stopped
	// first: CloudFormation cannot delete a cluster that runs tasks.
	Clusters []string
	// LogGroups outlive the stack: the example's log groups are retained
	// (DeletionPolicy Retain), and Lambda creates /aws/lambda/FUNCTION for
	// a custom resource's function outside CloudFormation.
	LogGroups []string
}

// StackLeftovers reads a stack's resources (DescribeStackResources) for
// its clusters and the log groups that outlive it. Deleting a log group
// that the stack's deletion did remove finds nothing, which counts as
// deleted, so every log group is listed.
func StackLeftovers(name string, resources []cftypes.StackResource) StackInventory {
	s := StackInventory{Name: name}
	for _, r := range resources {
		id := aws.ToString(r.PhysicalResourceId)
		if id == "" {
			continue
		}
		switch aws.ToString(r.ResourceType) {
		case "AWS::ECS::Cluster":
			s.Clusters = append(s.Clusters, id)
		case "AWS::Logs::LogGroup":
			s.LogGroups = append(s.LogGroups, id)
		case "AWS::Lambda::Function":
			s.LogGroups = append(s.LogGroups, "/aws/lambda/"+id)
		}
	}
	slices.Sort(s.Clusters)
	slices.Sort(s.LogGroups)
	return s
}

// StepKind is what a clean-up step does.
type StepKind string

// Kinds of steps, in the order PlanCleanup puts them.
const (
	StopTasks      StepKind = "stop probe tasks in cluster"
	Unsubscribe    StepKind = "unsubscribe"
	DeleteQueue    StepKind = "delete queue"
	DeleteStack    StepKind = "delete stack"
	DeleteLogGroup StepKind = "delete log group"
	DeleteSecret   StepKind = "delete secret"
)

// Step is one deletion. Stack is set for steps that belong to a stack: its
// log groups are left alone when the stack itself could not be deleted.
type Step struct {
	Kind   StepKind
	Target string
	Stack  string
}

func (s Step) String() string { return string(s.Kind) + " " + s.Target }

// PlanCleanup orders the deletions of an inventory: probe tasks stopped
// before their clusters' stacks go; subscriptions and queues before the
// stacks, so no notification arrives half-way; stacks in the inventory's
// order; log groups once nothing writes to them; secrets last, once no
// task can start with them.
func PlanCleanup(inv Inventory) []Step {
	var steps []Step
	for _, s := range inv.Stacks {
		for _, c := range s.Clusters {
			steps = append(steps, Step{Kind: StopTasks, Target: c, Stack: s.Name})
		}
	}
	for _, sub := range inv.Subscriptions {
		steps = append(steps, Step{Kind: Unsubscribe, Target: sub})
	}
	for _, q := range inv.Queues {
		steps = append(steps, Step{Kind: DeleteQueue, Target: q})
	}
	for _, s := range inv.Stacks {
		steps = append(steps, Step{Kind: DeleteStack, Target: s.Name, Stack: s.Name})
	}
	for _, s := range inv.Stacks {
		for _, g := range s.LogGroups {
			steps = append(steps, Step{Kind: DeleteLogGroup, Target: g, Stack: s.Name})
		}
	}
	for _, g := range inv.LogGroups {
		steps = append(steps, Step{Kind: DeleteLogGroup, Target: g})
	}
	for _, sec := range inv.Secrets {
		steps = append(steps, Step{Kind: DeleteSecret, Target: sec})
	}
	return steps
}

// Report says what a clean-up deleted and what it could not.
type Report struct {
	Deleted []string
	Failed  []string
}

// Err is nil when everything was deleted, and otherwise names every
// resource left behind and why, for the test's failure message.
func (r Report) Err() error {
	if len(r.Failed) == 0 {
		return nil
	}
	return fmt.Errorf("could not delete %d resources; delete them by hand or run the sweeper (docs/integ.md):\n  %s",
		len(r.Failed), strings.Join(r.Failed, "\n  "))
}

// Cleaner deletes in a real account, through the interfaces.
type Cleaner struct {
	Run           RunID
	Stacks        StackAPI
	Secrets       SecretAPI
	Queues        QueueAPI
	Logs          LogAPI
	Tasks         TaskAPI
	Subscriptions SubscriptionAPI
	// Poll is the interval of the wait for a stack's deletion, and
	// StackTimeout its bound.
	Poll, StackTimeout time.Duration
	// Sleep waits; tests replace it.
	Sleep func(context.Context, time.Duration) error
}

// Execute runs the steps in order and goes on after a failure: what can be
// deleted is deleted, and the report names the rest.
func (c Cleaner) Execute(ctx context.Context, steps []Step) Report {
	var r Report
	failedStacks := map[string]bool{}
	for _, s := range steps {
		if s.Kind == DeleteLogGroup && failedStacks[s.Stack] {
			r.Failed = append(r.Failed, s.String()+": not attempted, its stack "+s.Stack+" is not deleted")
			continue
		}
		if err := c.do(ctx, s); err != nil {
			r.Failed = append(r.Failed, s.String()+": "+err.Error())
			if s.Kind == DeleteStack {
				failedStacks[s.Stack] = true
			}
			continue
		}
		r.Deleted = append(r.Deleted, s.String())
	}
	return r
}

func (c Cleaner) do(ctx context.Context, s Step) error {
	var err error
	switch s.Kind {
	case StopTasks:
		return c.stopTasks(ctx, s.Target)
	case Unsubscribe:
		_, err = c.Subscriptions.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(s.Target)})
	case DeleteQueue:
		_, err = c.Queues.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(s.Target)})
	case DeleteStack:
		return c.deleteStack(ctx, s.Target)
	case DeleteLogGroup:
		_, err = c.Logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(s.Target)})
	case DeleteSecret:
		// Without recovery: a throwaway certificate needs no 7-day
		// window, and its name would stay taken during one.
		_, err = c.Secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(s.Target), ForceDeleteWithoutRecovery: aws.Bool(true)})
	default:
		return fmt.Errorf("unknown step %q", s.Kind)
	}
	if notFound(err) {
		return nil
	}
	return err
}

// stopTasks stops the run's probe tasks in a cluster; they stop by
// themselves within seconds, so this only matters after an interruption.
func (c Cleaner) stopTasks(ctx context.Context, cluster string) error {
	var token *string
	for range 100 { // pages of up to 100 tasks: far more than a run starts
		out, err := c.Tasks.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(cluster), StartedBy: aws.String(c.Run.StartedBy()), NextToken: token})
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, arn := range out.TaskArns {
			if _, err := c.Tasks.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn), Reason: aws.String("passthrough deploy tests: clean-up")}); err != nil && !notFound(err) {
				return err
			}
		}
		if token = out.NextToken; token == nil {
			return nil
		}
	}
	return errors.New("more than 100 pages of tasks")
}

// deleteStack deletes a stack and waits until CloudFormation reports it
// deleted, or failed to; for a failure it names each resource it could not
// delete and why. CloudFormation deletes with the role the stack was
// deployed with (the CDK bootstrap's execution role), "even if the users
// don't have permission to pass it" (CloudFormation API reference,
// DeleteStack, RoleARN), so the suite needs cloudformation:DeleteStack on
// the run's stacks and nothing of what is in them.
func (c Cleaner) deleteStack(ctx context.Context, name string) error {
	out, err := c.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if notFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(out.Stacks) != 1 {
		return fmt.Errorf("%d stacks named %s", len(out.Stacks), name)
	}
	// After the deletion only the stack's ID finds it.
	id := aws.ToString(out.Stacks[0].StackId)
	if out.Stacks[0].StackStatus != cftypes.StackStatusDeleteInProgress {
		if _, err := c.Stacks.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id)}); err != nil {
			return err
		}
	}
	poll, timeout := c.Poll, c.StackTimeout
	if poll <= 0 {
		poll = 15 * time.Second
	}
	if timeout <= 0 {
		timeout = 45 * time.Minute
	}
	for waited := time.Duration(0); waited <= timeout; waited += poll {
		out, err := c.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)})
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(out.Stacks) == 1 {
			switch out.Stacks[0].StackStatus {
			case cftypes.StackStatusDeleteComplete:
				return nil
			case cftypes.StackStatusDeleteFailed:
				return c.deleteFailure(ctx, id, aws.ToString(out.Stacks[0].StackStatusReason))
			}
		}
		if err := c.sleep(ctx, poll); err != nil {
			return err
		}
	}
	return fmt.Errorf("still not deleted after %s", timeout)
}

// deleteFailure names the resources CloudFormation could not delete.
func (c Cleaner) deleteFailure(ctx context.Context, id, reason string) error {
	out, err := c.Stacks.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String(id)})
	if err != nil {
		return fmt.Errorf("DELETE_FAILED (%s); listing its resources: %w", reason, err)
	}
	var left []string
	for _, r := range out.StackResources {
		if r.ResourceStatus == cftypes.ResourceStatusDeleteFailed {
			left = append(left, fmt.Sprintf("%s %s (%s): %s", aws.ToString(r.ResourceType), aws.ToString(r.LogicalResourceId),
				aws.ToString(r.PhysicalResourceId), aws.ToString(r.ResourceStatusReason)))
		}
	}
	slices.Sort(left)
	return fmt.Errorf("DELETE_FAILED (%s); left: %s", reason, strings.Join(left, "; "))
}

func (c Cleaner) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// notFound reports whether err says the resource does not exist, which a
// deletion counts as done. The services name it differently: Secrets
// Manager, CloudWatch Logs, ECS and SNS with error codes, CloudFormation
// with a ValidationError "Stack with id X does not exist", SQS with
// AWS.SimpleQueueService.NonExistentQueue (QueueDoesNotExist).
func notFound(err error) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ResourceNotFoundException", "NotFound", "NotFoundException", "ClusterNotFoundException",
		"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue":
		return true
	case "ValidationError":
		return strings.Contains(ae.ErrorMessage(), "does not exist")
	}
	return false
}
