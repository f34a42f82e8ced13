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
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Sweeper finds what runs left behind: a run killed half-way (a cancelled
// CI job, a laptop closed) never reaches its own clean-up.
type Sweeper struct {
	Stacks  StackAPI
	Secrets SecretAPI
	Queues  QueueAPI
	Logs    LogAPI
	// MinAge spares the runs that started less than MinAge before now:
	// they may still be going, in another job or on another machine.
	MinAge time.Duration
	// Skip is a run never swept: the caller's own.
	Skip RunID
}

// logGroupPrefixes are where the example stacks' log groups are: retained
// groups get CloudFormation-generated names that start with the stack name,
// and Lambda names a function's group after the function, whose generated
// name starts with the stack name too (shortened by CloudFormation when
// long; a group whose name lost the run's ID is not found, and says so
// nowhere: the report lists what was found).
var logGroupPrefixes = []string{"Passthrough", "/aws/lambda/Passthrough"}

// maxPages bounds every listing: a test account has far fewer resources.
const maxPages = 200

// Find lists every run older than MinAge with something left, and what.
// Stacks come from their tag, secrets and queues from theirs, log groups
// from the run ID in their name. A resource whose tag holds no valid run ID
// is skipped and named in notes.
func (s Sweeper) Find(ctx context.Context, now time.Time) (runs []Inventory, notes []string, err error) {
	byRun := map[RunID]*Inventory{}
	inv := func(tag string) *Inventory {
		run, started, perr := ParseRunID(tag)
		if perr != nil {
			notes = append(notes, perr.Error())
			return nil
		}
		if run == s.Skip || now.Sub(started) < s.MinAge {
			return nil
		}
		if byRun[run] == nil {
			byRun[run] = &Inventory{Run: run}
		}
		return byRun[run]
	}
	if err := s.findStacks(ctx, inv); err != nil {
		return nil, notes, fmt.Errorf("stacks: %w", err)
	}
	if err := s.findSecrets(ctx, inv); err != nil {
		return nil, notes, fmt.Errorf("secrets: %w", err)
	}
	if err := s.findQueues(ctx, inv); err != nil {
		return nil, notes, fmt.Errorf("queues: %w", err)
	}
	if err := s.findLogGroups(ctx, inv); err != nil {
		return nil, notes, fmt.Errorf("log groups: %w", err)
	}
	for _, r := range byRun {
		r.drop()
		runs = append(runs, *r)
	}
	slices.SortFunc(runs, func(a, b Inventory) int { return strings.Compare(string(a.Run), string(b.Run)) })
	return runs, notes, nil
}

// sweptStack is a stack found and when it was created: a run's stacks are
// deleted newest first, because a stack is created after the stacks it
// depends on.
type sweptStack struct {
	StackInventory
	created time.Time
}

func (s Sweeper) findStacks(ctx context.Context, inv func(string) *Inventory) error {
	stacks := map[*Inventory][]sweptStack{}
	var token *string
	for page := 0; ; page++ {
		if page == maxPages {
			return errors.New("too many pages")
		}
		out, err := s.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{NextToken: token})
		if err != nil {
			return err
		}
		for _, st := range out.Stacks {
			run, ok := tagValue(st.Tags)
			if !ok || st.StackStatus == cftypes.StackStatusDeleteComplete {
				continue
			}
			r := inv(run)
			if r == nil {
				continue
			}
			name := aws.ToString(st.StackName)
			res, err := s.Stacks.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: st.StackId})
			if notFound(err) { // deleted since it was listed
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			stacks[r] = append(stacks[r], sweptStack{StackLeftovers(name, res.StackResources), aws.ToTime(st.CreationTime)})
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	for r, list := range stacks {
		slices.SortFunc(list, func(a, b sweptStack) int { return b.created.Compare(a.created) })
		for _, st := range list {
			r.Stacks = append(r.Stacks, st.StackInventory)
		}
	}
	return nil
}

func tagValue(tags []cftypes.Tag) (string, bool) {
	for _, t := range tags {
		if aws.ToString(t.Key) == TagKey {
			return aws.ToString(t.Value), true
		}
	}
	return "", false
}

func (s Sweeper) findSecrets(ctx context.Context, inv func(string) *Inventory) error {
	var token *string
	for page := 0; ; page++ {
		if page == maxPages {
			return errors.New("too many pages")
		}
		out, err := s.Secrets.ListSecrets(ctx, &secretsmanager.ListSecretsInput{
			Filters:   []smtypes.Filter{{Key: smtypes.FilterNameStringTypeTagKey, Values: []string{TagKey}}},
			NextToken: token,
		})
		if err != nil {
			return err
		}
		for _, sec := range out.SecretList {
			for _, t := range sec.Tags {
				if aws.ToString(t.Key) != TagKey {
					continue
				}
				if r := inv(aws.ToString(t.Value)); r != nil {
					r.Secrets = append(r.Secrets, aws.ToString(sec.ARN))
				}
			}
		}
		if token = out.NextToken; token == nil {
			return nil
		}
	}
}

func (s Sweeper) findQueues(ctx context.Context, inv func(string) *Inventory) error {
	var token *string
	for page := 0; ; page++ {
		if page == maxPages {
			return errors.New("too many pages")
		}
		out, err := s.Queues.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(QueuePrefix), NextToken: token})
		if err != nil {
			return err
		}
		for _, url := range out.QueueUrls {
			tags, err := s.Queues.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
			if notFound(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", url, err)
			}
			if run, ok := tags.Tags[TagKey]; ok {
				if r := inv(run); r != nil {
					r.Queues = append(r.Queues, url)
				}
			}
		}
		if token = out.NextToken; token == nil {
			return nil
		}
	}
}

func (s Sweeper) findLogGroups(ctx context.Context, inv func(string) *Inventory) error {
	for _, prefix := range logGroupPrefixes {
		var token *string
		for page := 0; ; page++ {
			if page == maxPages {
				return errors.New("too many pages")
			}
			out, err := s.Logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(prefix), NextToken: token})
			if err != nil {
				return err
			}
			for _, g := range out.LogGroups {
				name := aws.ToString(g.LogGroupName)
				if run, ok := RunIn(name); ok {
					if r := inv(string(run)); r != nil {
						r.LogGroups = append(r.LogGroups, name)
					}
				}
			}
			if token = out.NextToken; token == nil {
				break
			}
		}
	}
	return nil
}

// drop removes from the loose log groups those a stack of the run already
// lists, so each is deleted once, after its stack.
func (inv *Inventory) drop() {
	inStacks := map[string]bool{}
	for _, s := range inv.Stacks {
		for _, g := range s.LogGroups {
			inStacks[g] = true
		}
	}
	inv.LogGroups = slices.DeleteFunc(inv.LogGroups, func(g string) bool { return inStacks[g] })
	slices.Sort(inv.LogGroups)
	slices.Sort(inv.Secrets)
	slices.Sort(inv.Queues)
}
