// Validates Kubernetes objects offline against the schemas of kubernetes-models (the Kubernetes API) and
// @kubernetes-models/prometheus-operator (monitoring.coreos.com), and prints them as JSON for the tests.
//
//   node validate.mjs objects [FILE]   multi-document YAML (e.g. `kubectl kustomize ...`) from FILE or stdin: every
//                                      object must be of a known apiVersion/kind and valid; prints {"objects":[...]}
//   node validate.mjs yaml FILE...     prints each YAML file as JSON, {"files":[...]} (the Prometheus rules sources)
//
// Exit code 0 when everything is valid; 1 with one line per problem on stderr, naming the object and the field.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// apiVersion -> module with one class per kind.
const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "batch/v1": "kubernetes-models/batch/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "rbac.authorization.k8s.io/v1": "kubernetes-models/rbac.authorization.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

function parse(text, source) {
  const docs = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: YAML: ${doc.errors.map(e => e.message).join("; ")}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

async function validate(object) {
  const name = `${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}`;
  const module = modules[object?.apiVersion];
  if (!module) return [`${name}: apiVersion '${object?.apiVersion}' has no schema here (known: ${Object.keys(modules).join(", ")})`];
  const kinds = await import(module);
  const Model = kinds[object.kind];
  if (typeof Model !== "function") return [`${name}: kind '${object.kind}' is not in ${object.apiVersion}`];
  try {
    new Model(object).validate();
    return [];
  } catch (e) {
    const details = Array.isArray(e.errors)
      ? e.errors.map(d => `${d.instancePath || "/"} ${d.message}${d.params ? " " + JSON.stringify(d.params) : ""}`)
      : [e.message];
    return details.map(d => `${name}: ${d}`);
  }
}

const [mode, ...files] = process.argv.slice(2);
if (mode === "objects") {
  const text = files.length > 0 ? readFileSync(files[0], "utf8") : readFileSync(0, "utf8");
  const objects = parse(text, files[0] ?? "stdin");
  if (objects.length === 0) { console.error("no objects in the input"); process.exit(1); }
  const problems = [];
  for (const object of objects) problems.push(...await validate(object));
  if (problems.length > 0) { for (const p of problems) console.error(p); process.exit(1); }
  process.stdout.write(JSON.stringify({ objects }));
} else if (mode === "yaml") {
  process.stdout.write(JSON.stringify({ files: files.map(f => { const d = parse(readFileSync(f, "utf8"), f); return d.length === 1 ? d[0] : d; }) }));
} else {
  console.error("usage: node validate.mjs objects [FILE] | node validate.mjs yaml FILE...");
  process.exit(2);
}
