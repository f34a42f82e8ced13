package integ

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// AssemblyStack is one stack of a synthesized cloud assembly (cdk.out): the
// suite synthesizes once and deploys the assembly, so the templates it
// analyses are exactly the ones CloudFormation gets.
type AssemblyStack struct {
	// ID is the artifact ID, the construct ID `cdk deploy` selects by.
	ID string
	// StackName is the CloudFormation name, with the run's suffix.
	StackName    string
	TemplateFile string
	// Dependencies are the IDs of the stacks this one depends on.
	Dependencies []string
}

// ReadAssembly lists the stacks in the cloud assembly in dir, sorted by ID,
// from its manifest.json (the cloud assembly schema's "artifacts" of type
// aws:cloudformation:stack).
func ReadAssembly(dir string) ([]AssemblyStack, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var manifest struct {
		Artifacts map[string]struct {
			Type       string `json:"type"`
			Properties struct {
				TemplateFile string `json:"templateFile"`
				StackName    string `json:"stackName"`
			} `json:"properties"`
			Dependencies []string `json:"dependencies"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var out []AssemblyStack
	for id, a := range manifest.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		s := AssemblyStack{ID: id, StackName: a.Properties.StackName, TemplateFile: a.Properties.TemplateFile}
		if s.StackName == "" { // no stackName: the name is the ID
			s.StackName = id
		}
		if s.TemplateFile == "" {
			return nil, fmt.Errorf("%s: stack %s has no templateFile", dir, id)
		}
		for _, d := range a.Dependencies {
			if other, ok := manifest.Artifacts[d]; ok && other.Type == "aws:cloudformation:stack" {
				s.Dependencies = append(s.Dependencies, d)
			}
		}
		slices.Sort(s.Dependencies)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b AssemblyStack) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Stack returns the stack with ID id.
func Stack(stacks []AssemblyStack, id string) (AssemblyStack, error) {
	for _, s := range stacks {
		if s.ID == id {
			return s, nil
		}
	}
	return AssemblyStack{}, fmt.Errorf("no stack %s in the assembly", id)
}

// Template reads the stack's template from the assembly in dir.
func (s AssemblyStack) Template(dir string) (map[string]any, error) {
	raw, err := os.ReadFile(filepath.Join(dir, s.TemplateFile))
	if err != nil {
		return nil, err
	}
	var t map[string]any
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", s.TemplateFile, err)
	}
	return t, nil
}
