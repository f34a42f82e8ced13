package integ

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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

// fixture decodes testdata/path into a T, refusing members T does not
// have: a fixture written by hand must use the API's member names.
func fixture[T any](t testing.TB, path string) *T {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var v T
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &v
}

func apiError(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

var (
	errNoStack  = apiError("ValidationError", "Stack with id X does not exist")
	errNotFound = apiError("ResourceNotFoundException", "not found")
	errDenied   = apiError("AccessDeniedException", "User is not authorized to perform this action")
)

// calls records what a fake was asked to do, in order.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf(format, args...))
}

// fakeStacks answers DescribeStacks without a name from pages keyed by
// token (the first under ""), with a name from a script of answers per
// stack (the last repeats), and DescribeStackResources from a fixture per
// stack name.
type fakeStacks struct {
	*calls
	t         testing.TB
	pages     map[string]string        // token -> fixture
	scripts   map[string][]stackAnswer // name or ID -> answers
	resources map[string]string        // name -> fixture
	deleteErr map[string]error         // name or ID -> error
	asked     map[string]int           // answers used
}

type stackAnswer struct {
	status string
	err    error
}

func (f *fakeStacks) DescribeStacks(_ context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if in.StackName == nil {
		page := f.pages[aws.ToString(in.NextToken)]
		if page == "" {
			f.t.Fatalf("DescribeStacks with an unknown token %q", aws.ToString(in.NextToken))
		}
		return fixture[cloudformation.DescribeStacksOutput](f.t, page), nil
	}
	name := aws.ToString(in.StackName)
	f.add("DescribeStacks %s", name)
	script := f.scripts[name]
	if len(script) == 0 {
		return nil, errNoStack
	}
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	a := script[min(f.asked[name], len(script)-1)]
	f.asked[name]++
	if a.err != nil {
		return nil, a.err
	}
	stackName := name
	if i := strings.Index(name, "stack/"); i >= 0 {
		stackName = strings.Split(name[i+6:], "/")[0]
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{
		StackName: aws.String(stackName), StackId: aws.String(stackID(stackName)), StackStatus: cftypes.StackStatus(a.status),
		StackStatusReason: aws.String("The following resource(s) failed to delete: [OrdersClusterB4E9C7A1]."),
	}}}, nil
}

func (f *fakeStacks) DescribeStackResources(_ context.Context, in *cloudformation.DescribeStackResourcesInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackResourcesOutput, error) {
	name := aws.ToString(in.StackName)
	if i := strings.Index(name, "stack/"); i >= 0 {
		name = strings.Split(name[i+6:], "/")[0]
	}
	f.add("DescribeStackResources %s", name)
	path, ok := f.resources[name]
	if !ok {
		return nil, errNoStack
	}
	return fixture[cloudformation.DescribeStackResourcesOutput](f.t, path), nil
}

func (f *fakeStacks) DeleteStack(_ context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	f.add("DeleteStack %s", aws.ToString(in.StackName))
	return &cloudformation.DeleteStackOutput{}, f.deleteErr[aws.ToString(in.StackName)]
}

// stackID is the fakes' ID of a stack: CloudFormation's form, so that the
// cleaner finds the stack by it after the deletion.
func stackID(name string) string {
	return "arn:aws:cloudformation:eu-west-1:111122223333:stack/" + name + "/00000000-0000-0000-0000-000000000000"
}

type fakeSecrets struct {
	*calls
	t         testing.TB
	list      string
	deleteErr map[string]error
}

func (f *fakeSecrets) ListSecrets(_ context.Context, in *secretsmanager.ListSecretsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error) {
	if len(in.Filters) != 1 || string(in.Filters[0].Key) != "tag-key" || in.Filters[0].Values[0] != TagKey {
		f.t.Errorf("ListSecrets filters %+v, want the tag key %s", in.Filters, TagKey)
	}
	return fixture[secretsmanager.ListSecretsOutput](f.t, f.list), nil
}

func (f *fakeSecrets) DeleteSecret(_ context.Context, in *secretsmanager.DeleteSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	f.add("DeleteSecret %s force=%v", aws.ToString(in.SecretId), aws.ToBool(in.ForceDeleteWithoutRecovery))
	return &secretsmanager.DeleteSecretOutput{}, f.deleteErr[aws.ToString(in.SecretId)]
}

type fakeQueues struct {
	*calls
	t testing.TB
}

func (f *fakeQueues) ListQueues(_ context.Context, in *sqs.ListQueuesInput, _ ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error) {
	if aws.ToString(in.QueueNamePrefix) != QueuePrefix {
		f.t.Errorf("ListQueues prefix %q, want %q", aws.ToString(in.QueueNamePrefix), QueuePrefix)
	}
	return fixture[sqs.ListQueuesOutput](f.t, "sqs/list-queues.json"), nil
}

func (f *fakeQueues) ListQueueTags(_ context.Context, in *sqs.ListQueueTagsInput, _ ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	url := aws.ToString(in.QueueUrl)
	return fixture[sqs.ListQueueTagsOutput](f.t, "sqs/list-queue-tags-"+url[strings.LastIndex(url, "/")+1:]+".json"), nil
}

func (f *fakeQueues) DeleteQueue(_ context.Context, in *sqs.DeleteQueueInput, _ ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error) {
	f.add("DeleteQueue %s", aws.ToString(in.QueueUrl))
	return &sqs.DeleteQueueOutput{}, nil
}

type fakeLogs struct {
	*calls
	t         testing.TB
	deleteErr map[string]error
}

func (f *fakeLogs) DescribeLogGroups(_ context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	name := strings.NewReplacer("/", "-").Replace(strings.TrimPrefix(aws.ToString(in.LogGroupNamePrefix), "/"))
	return fixture[cloudwatchlogs.DescribeLogGroupsOutput](f.t, "logs/describe-log-groups-"+name+".json"), nil
}

func (f *fakeLogs) DeleteLogGroup(_ context.Context, in *cloudwatchlogs.DeleteLogGroupInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error) {
	f.add("DeleteLogGroup %s", aws.ToString(in.LogGroupName))
	return &cloudwatchlogs.DeleteLogGroupOutput{}, f.deleteErr[aws.ToString(in.LogGroupName)]
}

type fakeTasks struct {
	*calls
	running map[string][]string // cluster -> task ARNs started by the run
}

func (f *fakeTasks) ListTasks(_ context.Context, in *ecs.ListTasksInput, _ ...func(*ecs.Options)) (*ecs.ListTasksOutput, error) {
	f.add("ListTasks %s startedBy=%s", aws.ToString(in.Cluster), aws.ToString(in.StartedBy))
	return &ecs.ListTasksOutput{TaskArns: f.running[aws.ToString(in.Cluster)]}, nil
}

func (f *fakeTasks) StopTask(_ context.Context, in *ecs.StopTaskInput, _ ...func(*ecs.Options)) (*ecs.StopTaskOutput, error) {
	f.add("StopTask %s", aws.ToString(in.Task))
	return &ecs.StopTaskOutput{}, nil
}

type fakeSubscriptions struct{ *calls }

func (f *fakeSubscriptions) Unsubscribe(_ context.Context, in *sns.UnsubscribeInput, _ ...func(*sns.Options)) (*sns.UnsubscribeOutput, error) {
	f.add("Unsubscribe %s", aws.ToString(in.SubscriptionArn))
	return &sns.UnsubscribeOutput{}, apiError("NotFound", "Subscription does not exist")
}
