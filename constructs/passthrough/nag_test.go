package passthrough_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/passthrough-cdk/passthrough/constructs/passthrough"
	"github.com/passthrough-cdk/passthrough/internal/cdktest"
)

// A user who runs cdk-nag's AwsSolutions pack around Passthrough's
// constructs sees no finding that the library causes: each one is fixed in
// a default or suppressed on its one resource with the reason.
func TestLibraryCausesNoCdkNagFinding(t *testing.T) {
	for _, ec2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("ec2=%v", ec2), func(t *testing.T) {
			f := newFixture(t, ec2)
			f.image = awsecs.ContainerImage_FromAsset(jsii.String(cdktest.RepoRoot()), &awsecs.AssetImageProps{
				File:     jsii.String("examples/tlsserver/Dockerfile"),
				Platform: awsecrassets.Platform_LINUX_AMD64(),
			})
			p := f.service(443)
			p.Certificate = &passthrough.Certificate{
				Secret: awssecretsmanager.Secret_FromSecretCompleteArn(f.stack, jsii.String("Cert"), jsii.String(certArn)),
			}
			if ec2 {
				passthrough.NewEC2Service(f.stack, jsii.String("Api"), &passthrough.EC2ServiceProps{ServiceProps: p})
			} else {
				newFargate(f, "Api", p, 256, 512)
			}
			awscdk.Aspects_Of(f.stack).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false), LogIgnores: jsii.Bool(true)}), nil)
			annotations := assertions.Annotations_FromStack(f.stack)
			match := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
			for _, m := range *annotations.FindError(jsii.String("*"), match) {
				t.Errorf("%s: %v", *m.Id, m.Entry.Data)
			}
			for _, m := range *annotations.FindWarning(jsii.String("*"), match) {
				t.Errorf("%s: %v", *m.Id, m.Entry.Data)
			}
			// The pack ran and read the library's suppression: it logs the
			// suppressed NLB access-log finding.
			ignored := annotations.FindInfo(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-ELB2")))
			if len(*ignored) == 0 {
				t.Error("cdk-nag logged no suppressed AwsSolutions-ELB2: the pack did not run, or did not see the suppression")
			}
		})
	}
}
