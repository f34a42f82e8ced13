package templates

import (
	"strings"
	"testing"
)

// exampleJSON is a small example stack as `cdk synth` writes it: path
// metadata, CDK version metadata, an asset, a parameter and an output.
const exampleJSON = `{
  "Description": "Passthrough example",
  "Parameters": {
    "CertificateSecretArn": {"Type": "String", "Description": "made with examples/tlsserver"},
    "BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/hnb659fds/version"}
  },
  "Resources": {
    "ClusterVpcA1B2C3D4": {
      "Type": "AWS::EC2::VPC",
      "Properties": {"CidrBlock": "10.0.0.0/16", "Tags": [{"Key": "Name", "Value": "Example/Cluster/Vpc"}]},
      "Metadata": {"aws:cdk:path": "Example/Cluster/Vpc/Resource"}
    },
    "ApiTaskDefinitionE5F6A7B8": {
      "Type": "AWS::ECS::TaskDefinition",
      "Properties": {
        "ContainerDefinitions": [{
          "Image": "registry.example.com/tls:1",
          "Environment": [{"Name": "SERVICE_NAME", "Value": "Api"}],
          "Secrets": [{"Name": "TLS_CERT", "ValueFrom": {"Fn::Join": ["", [{"Ref": "CertificateSecretArn"}, ":certificate::"]]}}]
        }]
      },
      "Metadata": {"aws:cdk:path": "Example/Api/TaskDefinition/Resource", "cdk_nag": {"rules_to_suppress": [{"id": "AwsSolutions-ECS2", "reason": "only names"}]}}
    },
    "ApiServiceC9D0E1F2": {
      "Type": "AWS::ECS::Service",
      "Properties": {"DesiredCount": 2, "TaskDefinition": {"Ref": "ApiTaskDefinitionE5F6A7B8"}},
      "DependsOn": ["ClusterVpcA1B2C3D4"],
      "Metadata": {"aws:cdk:path": "Example/Api/Service/Service"}
    },
    "ApiAlarm01234567": {
      "Type": "AWS::CloudWatch::Alarm",
      "Properties": {"AlarmDescription": "Targets of Example/Api are unhealthy", "Dimensions": [{"Value": {"Fn::GetAtt": ["ApiServiceC9D0E1F2", "Name"]}}]},
      "Metadata": {"aws:cdk:path": "Example/Api/Alarm/Resource"}
    },
    "ProviderFunction89ABCDEF": {
      "Type": "AWS::Lambda::Function",
      "Properties": {"Code": {"S3Key": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.zip"}},
      "Metadata": {"aws:cdk:path": "Example/Provider/Resource", "aws:asset:path": "asset.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "aws:asset:property": "Code"}
    },
    "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:abc"}, "Condition": "CDKMetadataAvailable"}
  },
  "Conditions": {"CDKMetadataAvailable": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
  "Outputs": {
    "ApiServiceNameF00D": {"Value": {"Fn::GetAtt": ["ApiServiceC9D0E1F2", "Name"]}}
  }
}`

// appJSON is exampleJSON as a template app synthesizes it: another stack
// name, the service renamed from Api to Payments (so other logical IDs and
// paths), another parameter name and asset hash, its own descriptions, and
// no CDK version metadata.
var appJSON = replaceAll(exampleJSON,
	`"Passthrough example"`, `"My app"`,
	"Example/", "Shop/",
	"ApiTaskDefinitionE5F6A7B8", "PaymentsTaskDefinition11111111",
	"ApiServiceC9D0E1F2", "PaymentsService22222222",
	"ApiAlarm01234567", "PaymentsAlarm33333333",
	"ApiServiceNameF00D", "PaymentsServiceNameBEEF",
	"/Api/", "/Payments/",
	`"Value": "Api"`, `"Value": "Payments"`,
	"CertificateSecretArn", "TlsSecretArn",
	"made with examples/tlsserver", "your certificate",
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
)

// replaceAll makes each replacement in turn, on the result of the ones
// before.
func replaceAll(s string, oldNew ...string) string {
	for i := 0; i < len(oldNew); i += 2 {
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

func compareJSON(t *testing.T, app string) []difference {
	t.Helper()
	diffs, err := compareStacks(stackTemplate{Stack: "Shop", JSON: []byte(app)}, stackTemplate{Stack: "Example", JSON: []byte(exampleJSON)})
	if err != nil {
		t.Fatal(err)
	}
	return diffs
}

// Stacks that differ only in names (stack, construct IDs and so logical IDs
// and paths, parameters), asset hashes, descriptions and CDK metadata match.
func TestStacksThatDifferOnlyInNamesMatch(t *testing.T) {
	if strings.Contains(appJSON, "ApiService") || strings.Contains(appJSON, "Example/") {
		t.Fatal("the fixture still holds the example's names")
	}
	withoutMetadata := strings.Replace(appJSON, `"CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:abc"}, "Condition": "CDKMetadataAvailable"}`, `"Extra": {"Type": "AWS::CDK::Metadata"}`, 1)
	for _, diff := range compareJSON(t, withoutMetadata) {
		t.Error(diff)
	}
}

// A resource whose logical ID is the same on both sides is paired with its
// namesake, wherever it stands.
func TestEqualLogicalIDsPairWhateverTheOrder(t *testing.T) {
	a := `{"Resources": {
		"First": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "one"}},
		"Second": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "two"}}}}`
	e := `{"Resources": {
		"Second": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "two"}},
		"First": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "one"}}}}`
	diffs, err := compareStacks(stackTemplate{Stack: "A", JSON: []byte(a)}, stackTemplate{Stack: "E", JSON: []byte(e)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// Anything but names is a difference, reported with its place in the
// example's template.
func TestDifferencesBeyondNamesAreReported(t *testing.T) {
	cases := []struct {
		name string
		from string
		to   string
		want []string
	}{
		{
			name: "a property",
			from: `"DesiredCount": 2`, to: `"DesiredCount": 3`,
			want: []string{"/Resources/ApiServiceC9D0E1F2/Properties/DesiredCount: template app 3, example 2"},
		},
		{
			name: "an image",
			from: "registry.example.com/tls:1", to: "registry.example.com/tls:2",
			want: []string{`/Resources/ApiTaskDefinitionE5F6A7B8/Properties/ContainerDefinitions/0/Image: template app "registry.example.com/tls:2", example "registry.example.com/tls:1"`},
		},
		{
			name: "cdk-nag metadata",
			from: `"reason": "only names"`, to: `"reason": "names"`,
			want: []string{`/Resources/ApiTaskDefinitionE5F6A7B8/Metadata/cdk_nag/rules_to_suppress/0/reason: template app "names", example "only names"`},
		},
		{
			name: "a resource more",
			from: `"CDKMetadata":`, to: `"Topic": {"Type": "AWS::SNS::Topic"}, "CDKMetadata":`,
			want: []string{
				`Resources of type AWS::SNS::Topic: template app ["Topic"], example (none)`,
				`/Resources/Topic: template app {"Type":"AWS::SNS::Topic"}, example (none)`,
			},
		},
		{
			name: "a dependency",
			from: `"DependsOn": ["ClusterVpcA1B2C3D4"],`, to: ``,
			want: []string{`/Resources/ApiServiceC9D0E1F2/DependsOn: template app (none), example ["ClusterVpcA1B2C3D4"]`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(appJSON, tc.from) {
				t.Fatalf("fixture has no %q", tc.from)
			}
			var got []string
			for _, d := range compareJSON(t, strings.Replace(appJSON, tc.from, tc.to, 1)) {
				got = append(got, d.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
