package passthrough

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// nagSuppression is one cdk-nag rule suppression, in the form cdk-nag reads
// from a resource's "cdk_nag" template metadata. Writing the metadata
// directly keeps cdk-nag out of the library's dependencies while users who
// run cdk-nag around Passthrough see no finding that the design causes on
// purpose; the reasons are in the synthesized template for reviewers.
type nagSuppression struct {
	id, reason string
	appliesTo  []string
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
// (c itself or its default child), keeping any already recorded.
func suppressNag(c constructs.IConstruct, rules ...nagSuppression) {
	res, list := nagRules(c)
	if res == nil {
		return
	}
	for _, r := range rules {
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
