package passthrough

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// nagSuppression is one cdk-nag rule suppression, in the form cdk-nag v2
// reads from a resource's "cdk_nag" template metadata. Writing the metadata
// directly keeps cdk-nag out of the library's dependencies while users who
// run cdk-nag around Passthrough, or on its templates, see no finding that
// the design causes on purpose; the reasons are in the synthesized template
// for reviewers.
//
// Each is also recorded as an aws-cdk-lib validation acknowledgement on the
// same construct (awscdk.Validations_Of(c).Acknowledge), which is how
// cdk-nag v3, a policy-validation plugin that no longer reads the metadata,
// is told (see validationIDs).
type nagSuppression struct {
	id, reason string
	appliesTo  []string
	// droppable is set for a suppression that a later change to the app may
	// take back (dropNagSuppression): its acknowledgement, which cannot be
	// removed once recorded, waits for synthesis.
	droppable bool
}

// nagValidationFailure is the rule under which cdk-nag v2 reports a rule
// that could not evaluate a resource; appliesTo names the rules.
const nagValidationFailure = "CdkNagValidationFailure"

// validationIDs are the acknowledgement IDs of the suppression, as
// aws-cdk-lib matches them against a policy-validation plugin's findings:
// "<plugin>::<rule>", the plugin being the cdk-nag pack (cdk-nag v3 names
// each pack's plugin after it, "AwsSolutions"), and the rule as cdk-nag v3
// reports it: "AwsSolutions-IAM5", or "AwsSolutions-IAM5[Resource::*]" for
// one finding of a rule (v2's appliesTo). A rule that could not evaluate
// the resource is reported under its own ID in v3. aws-cdk-lib marks the
// findings it matches suppressed in the validation report, with the reason
// and the construct that acknowledged them (core/lib/private/synthesis-
// validation.js, collectSuppressions, in aws-cdk-lib 2.275).
func (r nagSuppression) validationIDs() []string {
	qualify := func(rule string) string {
		pack, _, _ := strings.Cut(rule, "-")
		return pack + "::" + rule
	}
	switch {
	case r.id == nagValidationFailure:
		ids := make([]string, len(r.appliesTo))
		for i, rule := range r.appliesTo {
			ids[i] = qualify(rule)
		}
		return ids
	case len(r.appliesTo) == 0:
		return []string{qualify(r.id)}
	}
	ids := make([]string, len(r.appliesTo))
	for i, finding := range r.appliesTo {
		ids[i] = qualify(r.id + "[" + finding + "]")
	}
	return ids
}

// acknowledge records the suppression's validation acknowledgements on c.
func (r nagSuppression) acknowledge(c constructs.IConstruct) {
	acks := make([]*awscdk.Acknowledgment, 0, len(r.appliesTo)+1)
	for _, id := range r.validationIDs() {
		acks = append(acks, &awscdk.Acknowledgment{Id: jsii.String(id), Reason: jsii.String(r.reason)})
	}
	awscdk.Validations_Of(c).Acknowledge(acks...)
}

// acknowledgeIfKept acknowledges a droppable suppression at synthesis, if
// the resource still carries it then.
type acknowledgeIfKept struct {
	rule nagSuppression
	done bool
}

// Visit implements awscdk.IAspect; it is added to the resource itself.
func (a *acknowledgeIfKept) Visit(node constructs.IConstruct) {
	if a.done {
		return
	}
	if _, ok := node.(awscdk.CfnResource); !ok {
		return
	}
	a.done = true
	if hasNagSuppression(node, a.rule.id) {
		a.rule.acknowledge(node)
	}
}

// nagRules returns the CloudFormation resource behind c (c itself or its
// default child), if any, and the cdk-nag suppressions it records.
func nagRules(c constructs.IConstruct) (awscdk.CfnResource, []any) {
	if child := c.Node().DefaultChild(); child != nil {
		c = child
	}
	res, ok := c.(awscdk.CfnResource)
	if !ok {
		return nil, nil
	}
	existing, _ := res.GetMetadata(jsii.String("cdk_nag")).(map[string]any)
	list, _ := existing["rules_to_suppress"].([]any)
	return res, list
}

// hasNagSuppression tells whether the resource behind c already records a
// suppression of rule id.
func hasNagSuppression(c constructs.IConstruct, id string) bool {
	_, rules := nagRules(c)
	for _, r := range rules {
		if m, _ := r.(map[string]any); m["id"] == id {
			return true
		}
	}
	return false
}

// suppressNag records suppressions on the CloudFormation resource behind c
// (c itself or its default child), keeping any already recorded, and
// acknowledges them there.
func suppressNag(c constructs.IConstruct, rules ...nagSuppression) {
	res, list := nagRules(c)
	if res == nil {
		return
	}
	for _, r := range rules {
		if r.droppable {
			awscdk.Aspects_Of(res).Add(&acknowledgeIfKept{rule: r}, nil)
		} else {
			r.acknowledge(res)
		}
		entry := map[string]any{"id": r.id, "reason": r.reason}
		if len(r.appliesTo) > 0 {
			applies := make([]any, len(r.appliesTo))
			for i, a := range r.appliesTo {
				applies[i] = a
			}
			entry["applies_to"] = applies
		}
		list = append(list, entry)
	}
	res.AddMetadata(jsii.String("cdk_nag"), map[string]any{"rules_to_suppress": list})
}

// suppressExecutionRoleWildcard covers the one statement of a task's
// execution role that cannot name a resource: ecr:GetAuthorizationToken,
// which ECS needs to pull an image from ECR and which AWS only grants on
// "*". Every other statement of the role (image layers, log stream,
// certificate secret) names its resource.
func suppressExecutionRoleWildcard(role constructs.IConstruct) {
	if role == nil {
		return
	}
	policy := role.Node().TryFindChild(jsii.String("DefaultPolicy"))
	if policy == nil {
		return
	}
	suppressNag(policy, nagSuppression{
		id:        "AwsSolutions-IAM5",
		reason:    "ecr:GetAuthorizationToken, which ECS needs to pull the image from ECR, supports no resource but *; the role's other statements name their resources",
		appliesTo: []string{"Resource::*"},
	})
}

// dropNagSuppression removes the suppressions of rule id from the resource
// behind c, keeping the others, for a finding that the design no longer
// explains (an administration port that faces the internet).
func dropNagSuppression(c constructs.IConstruct, id string) {
	res, list := nagRules(c)
	if res == nil {
		return
	}
	var kept []any
	for _, r := range list {
		if m, _ := r.(map[string]any); m["id"] != id {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(list) {
		return
	}
	metadata := map[string]any{}
	if existing := res.CfnOptions().Metadata(); existing != nil {
		for k, v := range *existing {
			metadata[k] = v
		}
	}
	delete(metadata, "cdk_nag")
	if len(kept) > 0 {
		metadata["cdk_nag"] = map[string]any{"rules_to_suppress": kept}
	}
	res.CfnOptions().SetMetadata(&metadata)
}

// restrictDefaultSGProvider is the construct ID, below the stack, of
// aws-cdk-lib's provider of the custom resource that empties a new VPC's
// default security group (one per stack, for all its VPCs).
const restrictDefaultSGProvider = "Custom::VpcRestrictDefaultSGCustomResourceProvider"

// suppressDefaultSecurityGroupProvider covers the role of that provider,
// which the library's VPCs bring. Its AWS managed policy is cdk-nag's
// AwsSolutions-IAM4 finding; cdk-nag sees the role only on the template
// (from outside), since aws-cdk-lib writes it as a plain CfnResource, not
// an iam.CfnRole.
func suppressDefaultSecurityGroupProvider(scope constructs.IConstruct) {
	provider := awscdk.Stack_Of(scope).Node().TryFindChild(jsii.String(restrictDefaultSGProvider))
	if provider == nil {
		return
	}
	role := provider.Node().TryFindChild(jsii.String("Role"))
	if role == nil || hasNagSuppression(role, "AwsSolutions-IAM4") {
		return
	}
	suppressNag(role, nagSuppression{
		id:        "AwsSolutions-IAM4",
		reason:    "aws-cdk-lib's function that removes every rule of the VPC's default security group (Security Hub EC2.2) writes its own logs through AWSLambdaBasicExecutionRole; its inline policy may only authorize and revoke rules of the stack's VPCs' default groups",
		appliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
	})
}
