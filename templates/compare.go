package templates

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// A template app's stack and the example stack it is made from must
// synthesize the same template apart from names. Names are what a user
// changes first (stack names, construct IDs, parameter names) and what the
// repository's tests already pin for the examples (the logical ID record),
// so the comparison maps the app's names onto the example's, and compares
// everything else as it is: every resource, property, rule, output and
// piece of cdk-nag metadata.
//
// Names are mapped without relying on them being equal:
//   - resources are paired by type and by the order in which they appear
//     (the order the constructs were created in), parameters, outputs and
//     conditions by order, and the app's logical IDs are replaced by the
//     example's wherever they occur (keys, Ref, Fn::GetAtt, Fn::Sub,
//     DependsOn, metadata);
//   - the construct paths of paired resources (aws:cdk:path metadata, which
//     `cdk synth` writes) give the renamed construct IDs, the stack name
//     first; they are replaced in path-like text (tags such as
//     "Stack/Cluster/Vpc", alarm descriptions) and in values that are
//     exactly a renamed ID (an environment variable holding a service's
//     name);
//   - asset hashes, the template's and its parameters' descriptions, the
//     CDK version metadata and path and asset metadata are left out.

// difference is one place where the two templates differ.
type difference struct {
	Path  string
	App   any
	Other any
}

func (d difference) String() string {
	return fmt.Sprintf("%s: template app %s, example %s", d.Path, show(d.App), show(d.Other))
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// stackTemplate is one synthesized stack.
type stackTemplate struct {
	Stack string
	JSON  []byte
}

// compareStacks returns where app's template differs from example's once
// names are mapped, or an error for a template it cannot read.
func compareStacks(app, example stackTemplate) ([]difference, error) {
	a, err := readTemplate(app)
	if err != nil {
		return nil, err
	}
	e, err := readTemplate(example)
	if err != nil {
		return nil, err
	}
	var diffs []difference
	r := newRenamer(app.Stack, example.Stack)
	for _, section := range []string{"Resources", "Parameters", "Outputs", "Conditions"} {
		diffs = append(diffs, r.pair(section, a, e)...)
	}
	mapped := r.apply(a.body).(map[string]any)
	diffs = append(diffs, diff("", mapped, e.body)...)
	return diffs, nil
}

// template is a decoded template with what normalizing took out of it.
type template struct {
	body map[string]any
	// order holds the keys of each section as they appear in the JSON.
	order map[string][]string
	// paths are the construct paths of the resources, by logical ID.
	paths map[string]string
}

var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

func readTemplate(s stackTemplate) (*template, error) {
	raw := assetHash.ReplaceAll(s.JSON, []byte("<asset-hash>"))
	t := &template{order: map[string][]string{}, paths: map[string]string{}}
	if err := json.Unmarshal(raw, &t.body); err != nil {
		return nil, fmt.Errorf("stack %s: %w", s.Stack, err)
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sections); err != nil {
		return nil, fmt.Errorf("stack %s: %w", s.Stack, err)
	}
	for name, section := range sections {
		keys, err := objectKeys(section)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %s: %w", s.Stack, name, err)
		}
		t.order[name] = keys
	}

	delete(t.body, "Description")
	resources, _ := t.body["Resources"].(map[string]any)
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] == "AWS::CDK::Metadata" {
			delete(resources, id)
			continue
		}
		meta, _ := res["Metadata"].(map[string]any)
		if path, ok := meta["aws:cdk:path"].(string); ok {
			t.paths[id] = path
		}
		for key := range meta {
			if key == "aws:cdk:path" || strings.HasPrefix(key, "aws:asset:") {
				delete(meta, key)
			}
		}
		if meta != nil && len(meta) == 0 {
			delete(res, "Metadata")
		}
	}
	t.order["Resources"] = slices.DeleteFunc(t.order["Resources"], func(id string) bool { _, ok := resources[id]; return !ok })
	if conditions, ok := t.body["Conditions"].(map[string]any); ok {
		delete(conditions, "CDKMetadataAvailable")
		t.order["Conditions"] = slices.DeleteFunc(t.order["Conditions"], func(id string) bool { return id == "CDKMetadataAvailable" })
		if len(conditions) == 0 {
			delete(t.body, "Conditions")
		}
	}
	parameters, _ := t.body["Parameters"].(map[string]any)
	for _, p := range parameters {
		if param, ok := p.(map[string]any); ok {
			delete(param, "Description")
		}
	}
	return t, nil
}

// objectKeys returns the keys of a JSON object in the order they are
// written, or nil for JSON that is not an object.
func objectKeys(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// renamer maps the template app's names onto the example's.
type renamer struct {
	ids      map[string]string // logical IDs, parameter, output and condition names
	segments map[string]string // construct IDs, the stack name among them
}

func newRenamer(appStack, exampleStack string) *renamer {
	return &renamer{ids: map[string]string{}, segments: map[string]string{appStack: exampleStack}}
}

// pair pairs the entries of one section of both templates, and reports
// entries that have no counterpart.
func (r *renamer) pair(section string, app, example *template) []difference {
	group := func(t *template) (map[string][]string, []string) {
		out := map[string][]string{}
		var kinds []string
		entries, _ := t.body[section].(map[string]any)
		for _, id := range t.order[section] {
			kind := section
			if section == "Resources" {
				kind, _ = entries[id].(map[string]any)["Type"].(string)
			}
			if _, seen := out[kind]; !seen {
				kinds = append(kinds, kind)
			}
			out[kind] = append(out[kind], id)
		}
		return out, kinds
	}
	a, aKinds := group(app)
	e, eKinds := group(example)
	kinds := append(aKinds, eKinds...)
	sort.Strings(kinds)
	var diffs []difference
	for i, kind := range kinds {
		if i > 0 && kinds[i-1] == kind {
			continue
		}
		if len(a[kind]) != len(e[kind]) {
			diffs = append(diffs, difference{Path: fmt.Sprintf("%s of type %s", section, kind), App: orNone(a[kind]), Other: orNone(e[kind])})
		}
		// Equal names pair first; the rest pair in the order they appear.
		var appRest, exampleRest []string
		for _, id := range a[kind] {
			if slices.Contains(e[kind], id) {
				r.pairIDs(app, example, id, id)
			} else {
				appRest = append(appRest, id)
			}
		}
		for _, id := range e[kind] {
			if !slices.Contains(a[kind], id) {
				exampleRest = append(exampleRest, id)
			}
		}
		for j := 0; j < len(appRest) && j < len(exampleRest); j++ {
			r.pairIDs(app, example, appRest[j], exampleRest[j])
		}
	}
	return diffs
}

// orNone is ids, or nil when there are none, which shows as "(none)".
func orNone(ids []string) any {
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// pairIDs maps the app's appID onto the example's exampleID.
func (r *renamer) pairIDs(app, example *template, appID, exampleID string) {
	r.ids[appID] = exampleID
	r.pairPaths(app.paths[appID], example.paths[exampleID])
}

// pairPaths records the construct IDs that differ between two paths of the
// same depth.
func (r *renamer) pairPaths(app, example string) {
	if app == "" || example == "" {
		return
	}
	as, es := strings.Split(app, "/"), strings.Split(example, "/")
	if len(as) != len(es) {
		return
	}
	for i := range as {
		if _, known := r.segments[as[i]]; !known && as[i] != es[i] {
			r.segments[as[i]] = es[i]
		}
	}
}

var (
	token    = regexp.MustCompile(`[A-Za-z0-9]+`)
	pathLike = regexp.MustCompile(`[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+`)
)

// apply returns v with the app's names replaced by the example's.
func (r *renamer) apply(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, val := range v {
			// Keys are property names, or the names of a section's
			// entries: only the latter are renamed.
			if to, ok := r.ids[k]; ok {
				k = to
			}
			out[k] = r.apply(val)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, val := range v {
			out[i] = r.apply(val)
		}
		return out
	case string:
		return r.rename(v)
	}
	return v
}

func (r *renamer) rename(s string) string {
	if to, ok := r.segments[s]; ok {
		return to
	}
	s = token.ReplaceAllStringFunc(s, func(t string) string {
		if to, ok := r.ids[t]; ok {
			return to
		}
		return t
	})
	return pathLike.ReplaceAllStringFunc(s, func(p string) string {
		parts := strings.Split(p, "/")
		for i, part := range parts {
			if to, ok := r.segments[part]; ok {
				parts[i] = to
			}
		}
		return strings.Join(parts, "/")
	})
}

// diff lists where app and example differ, by JSON path.
func diff(path string, app, example any) []difference {
	switch a := app.(type) {
	case map[string]any:
		e, ok := example.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range a {
			keys[k] = true
		}
		for k := range e {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []difference
		for _, k := range sorted {
			out = append(out, diff(path+"/"+k, a[k], e[k])...)
		}
		return out
	case []any:
		e, ok := example.([]any)
		if !ok || len(a) != len(e) {
			break
		}
		var out []difference
		for i := range a {
			out = append(out, diff(fmt.Sprintf("%s/%d", path, i), a[i], e[i])...)
		}
		return out
	}
	if reflect.DeepEqual(app, example) {
		return nil
	}
	return []difference{{Path: path, App: app, Other: example}}
}
