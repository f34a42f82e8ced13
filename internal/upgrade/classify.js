// Classifies what CloudFormation does to each resource when a stack deployed
// from one template is updated with another, by the resource specification's
// update semantics (each property's "Update requires"), through
// @aws-cdk/cloudformation-diff, the library behind `cdk diff`, pinned in the
// repository's package.json. A resource that references a replaced resource
// through a property whose change requires replacement is replaced too, as
// the library propagates it.
//
// Input on stdin: {"pairs": [{"name": ..., "old": TEMPLATE, "new": TEMPLATE}]}.
// Output on stdout: {"NAME": [{"id", "type", "impact", "replacing"}]}, one
// entry per resource that changes, with impact one of CREATE, UPDATE,
// REPLACE (the specification says the change replaces, or may replace,
// the resource), DESTROY (the logical ID is gone), and replacing the
// properties whose change causes the replacement. Run by package upgrade.
'use strict';

const { fullDiff, ResourceImpact } = require('@aws-cdk/cloudformation-diff');

const impacts = {
  [ResourceImpact.WILL_CREATE]: 'CREATE',
  [ResourceImpact.WILL_UPDATE]: 'UPDATE',
  [ResourceImpact.WILL_REPLACE]: 'REPLACE',
  // "Update requires: Some interruptions" or "Conditional": the change may
  // replace the resource; counted as a replacement, the safe reading.
  [ResourceImpact.MAY_REPLACE]: 'REPLACE',
  [ResourceImpact.WILL_DESTROY]: 'DESTROY',
  [ResourceImpact.WILL_ORPHAN]: 'DESTROY',
};

function classify(oldTemplate, newTemplate) {
  const out = [];
  const diff = fullDiff(oldTemplate, newTemplate);
  diff.resources.forEachDifference((id, change) => {
    const impact = impacts[change.changeImpact];
    if (impact === undefined) {
      return; // NO_CHANGE (metadata only) and imports
    }
    const replacing = [];
    for (const [prop, d] of Object.entries(change.propertyUpdates)) {
      if (d.changeImpact === ResourceImpact.WILL_REPLACE || d.changeImpact === ResourceImpact.MAY_REPLACE) {
        replacing.push(prop);
      }
    }
    replacing.sort();
    out.push({ id, type: change.newResourceType ?? change.oldResourceType, impact, replacing });
  });
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { pairs } = JSON.parse(input);
  const result = {};
  for (const { name, old: oldTemplate, new: newTemplate } of pairs) {
    result[name] = classify(oldTemplate, newTemplate);
  }
  process.stdout.write(JSON.stringify(result));
});
