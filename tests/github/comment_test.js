// comment_test.js - `memgate comment` against the loopback fake of GitHub's API
//
// usage: node comment_test.js CASE MEMGATE WORK_DIR DATA_DIR [FX_BASIC FX_ATEXIT]
// Each case starts its own fake on a free port, runs memgate as GitHub
// Actions would (GITHUB_* variables, a real webhook payload as the event,
// runner files), then checks the exit code, what the fake holds, that every
// request was valid per GitHub's OpenAPI description, that the outputs read
// back as the runner reads them, and that the token appears nowhere.
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { spawn } = require("child_process");
const { createRequire } = require("module");
const { startFake } = require("./fake_github.js");
const nodeRequire = createRequire(path.join(__dirname, "..", "node", "package.json"));

const [caseName, memgate, workRoot, dataDir] = process.argv.slice(2);
const work = path.join(workRoot, caseName);
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, "profiles"), { recursive: true });

let failed = 0;
function check(what, ok, detail) {
  if (!ok) {
    failed++;
    console.error(`FAIL: ${caseName}: ${what}${detail !== undefined ? `: ${detail}` : ""}`);
  }
}

// the runner's reading of $GITHUB_OUTPUT (actions/runner FileCommandManager, GITHUB-NOTES §2)
function parseOutputFile(text) {
  const out = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    const eq = line.indexOf("="), hd = line.indexOf("<<");
    if (eq >= 0 && (hd < 0 || eq < hd)) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
      continue;
    }
    if (hd < 0) throw new Error(`Invalid format '${line}'`);
    const name = line.slice(0, hd), delim = line.slice(hd + 2);
    const value = [];
    let j = i + 1;
    while (j < lines.length && lines[j] !== delim) value.push(lines[j++]);
    if (j >= lines.length) throw new Error(`Matching delimiter not found '${delim}'`);
    out[name] = value.join("\n");
    i = j;
  }
  return out;
}

const examples = nodeRequire("@octokit/webhooks-examples/api.github.com/index.json");
const prEvent = examples.find((e) => e.name === "pull_request").examples.find((e) => e.action === "opened");
const OWNER = prEvent.repository.owner.login, REPO = prEvent.repository.name;
const REPO_ID = prEvent.repository.id, PR = prEvent.number, HEAD = prEvent.pull_request.head.sha;
const MARKER = "<!-- memgate:memgate.yml -->";

function workflowRunEvent(prs) {
  const ex = examples.find((e) => e.name === "workflow_run").examples[0];
  const ev = JSON.parse(JSON.stringify(ex));
  ev.action = "completed";
  ev.workflow_run.event = "pull_request";
  ev.workflow_run.head_sha = HEAD;
  ev.workflow_run.pull_requests = prs;
  ev.repository = prEvent.repository;
  return ev;
}

function bigResult(n) {
  const tests = [];
  for (let i = 0; i < n; i++)
    tests.push({ name: `t${i}`, verdict: "regression", metrics: [{ metric: "peak_bytes", current: 2000 + i, baseline: 1000,
      allowed: 1100, limit: null, verdict: "regression" }], new_leak_sites: [],
      grew: [{ metric: "peak_bytes", site: `f${i} (big.c:${i}) < main (big.c:1) \u2705`, baseline: 0, current: 1000 + i, delta: 1000 + i, share: 1 }] });
  return { schema: 1, kind: "memgate-check", config: "memgate.yml", verdict: "regression", tests, missing: [] };
}

function run(cmd, env, cwd, timeoutMs = 30000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(cmd[0], cmd.slice(1), { env, cwd });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const kill = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code, signal) => {
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

function writeResult(obj) {
  fs.writeFileSync(path.join(work, "profiles", "memgate-check.json"), typeof obj === "string" ? obj : JSON.stringify(obj));
}

async function scenario(o) {
  const token = "ghs_" + crypto.randomBytes(18).toString("hex");
  const fake = await startFake({ token, owner: OWNER, repo: REPO, repoId: REPO_ID, pr: PR, ...o.fake });
  const event = path.join(work, "event.json");
  fs.writeFileSync(event, JSON.stringify(o.event || prEvent));
  const summary = path.join(work, "summary.md"), output = path.join(work, "output.txt");
  if (!o.keepFiles) {
    fs.rmSync(summary, { force: true });
    fs.rmSync(output, { force: true });
  }
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME,
    ASAN_OPTIONS: process.env.ASAN_OPTIONS || "", UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || "",
    GITHUB_ACTIONS: "true", GITHUB_API_URL: fake.base, GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
    GITHUB_EVENT_NAME: o.eventName || "pull_request", GITHUB_EVENT_PATH: event, GITHUB_TOKEN: token,
    GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: output,
    MEMGATE_GH_BACKOFF_MS: "20", MEMGATE_GH_TIMEOUT_MS: "5000", MEMGATE_GH_DEADLINE_MS: "15000",
    ...(o.env || {}),
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const r = await run(o.cmd || [memgate, "comment", "--from", "profiles", ...(o.args || [])], env, o.cwd || work);
  await fake.close();
  r.summary = fs.existsSync(summary) ? fs.readFileSync(summary, "utf8") : null;
  r.outputText = fs.existsSync(output) ? fs.readFileSync(output, "utf8") : null;
  try {
    r.outputs = r.outputText === null ? null : parseOutputFile(r.outputText);
  } catch (e) {
    check("$GITHUB_OUTPUT reads back", false, e.message);
  }
  r.fake = fake.state;
  r.token = token;
  // common to every case
  check("every request valid per GitHub's OpenAPI description", fake.state.violations.length === 0,
    "\n  " + fake.state.violations.join("\n  "));
  for (const [where, text] of [["stdout", r.stdout], ["stderr", r.stderr], ["summary", r.summary], ["outputs", r.outputText]])
    check(`token absent from ${where}`, !text || !text.includes(token));
  check("one line per memgate message", !/memgate: [^\n]*memgate: /.test(r.stderr));
  if (r.signal) check("memgate ended by itself", false, r.signal);
  if (process.env.VERBOSE) console.error(r.stdout, r.stderr, fake.state.requests.map((q) => `${q.method} ${q.url}`).join("\n"));
  return r;
}

function ours(state) {
  return state.comments.filter((c) => c.login === "github-actions[bot]" && c.body.includes(MARKER));
}
function others(n, start = 1) {
  const list = [];
  for (let i = 0; i < n; i++) list.push({ id: start + i, body: `comment ${i}`, login: i % 2 ? "octocat" : "dependabot[bot]" });
  return list;
}
function published(r, exit) {
  check(`exit ${exit}`, r.code === exit, `${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  check("summary written", r.summary && r.summary.includes("memgate"), r.summary);
  check("outputs written", r.outputs && ["verdict", "regressions", "report", "result-dir"].every((k) => k in r.outputs), r.outputText);
}

const regression = () => JSON.parse(fs.readFileSync(path.join(dataDir, "regression.json"), "utf8"));
const pass = () => JSON.parse(fs.readFileSync(path.join(dataDir, "pass.json"), "utf8"));

const cases = {
  // the first run on a pull request creates the comment; the outputs carry the verdict
  async create() {
    writeResult(regression());
    const r = await scenario({});
    published(r, 1);
    const mine = ours(r.fake);
    check("one comment created", mine.length === 1 && r.fake.comments.length === 1, r.fake.comments.map((c) => String(c.id)).join(","));
    check("one POST", r.fake.requests.filter((q) => q.method === "POST").length === 1);
    check("verdict output", r.outputs && r.outputs.verdict === "regression", r.outputs && r.outputs.verdict);
    check("regressions output", r.outputs && r.outputs.regressions === "2", r.outputs && r.outputs.regressions);
    check("report output is the comment", r.outputs && mine[0] && r.outputs.report === mine[0].body);
    check("marker on the first line", mine[0] && mine[0].body.startsWith(MARKER + "\n"));
    check("result-dir is absolute", r.outputs && r.outputs["result-dir"] === path.join(fs.realpathSync(work), "profiles"), r.outputs && r.outputs["result-dir"]);
    check("::error annotation per failing test", (r.stdout.match(/^::error title=memgate%3A /gm) || []).length === 2, r.stdout);
    check("annotation names the site", r.stdout.includes("+136 KiB (+13.3%25) vs baseline, 94%25 from parse_row (csv.c:212) < main (csv.c:40)"), r.stdout);
    check("environment ::warning", /^::warning title=memgate%3A parser measured in another environment::/m.test(r.stdout), r.stdout);
    check("says what it did", /memgate: created comment 3000000001 on pull request #2/.test(r.stderr), r.stderr);
  },
  // a re-run updates the same comment, found on the third page of 250 through Link headers
  async update_paged() {
    writeResult(regression());
    const existing = others(250);
    existing[230] = { id: 231, body: `${MARKER}\nold report`, login: "github-actions[bot]" };
    existing[3] = { id: 4, body: `quoting it: ${MARKER}`, login: "octocat" };
    existing[7] = { id: 8, body: `${MARKER}\nanother bot's`, login: "other-app[bot]" };
    const r = await scenario({ fake: { comments: existing } });
    published(r, 1);
    const pages = r.fake.requests.filter((q) => q.method === "GET").map((q) => q.url);
    check("three pages listed", pages.length === 3, pages.join(" "));
    check("first page per_page=100", pages[0] === `/repos/${OWNER}/${REPO}/issues/${PR}/comments?per_page=100`, pages[0]);
    check("next pages followed as given", pages[1] === `/repositories/${REPO_ID}/issues/${PR}/comments?per_page=100&page=2` &&
      pages[2] === `/repositories/${REPO_ID}/issues/${PR}/comments?per_page=100&page=3`, pages.join(" "));
    check("no POST", !r.fake.requests.some((q) => q.method === "POST"));
    const patches = r.fake.requests.filter((q) => q.method === "PATCH");
    check("one PATCH of comment 231", patches.length === 1 && patches[0].url === `/repos/${OWNER}/${REPO}/issues/comments/231`, patches.map((q) => q.url).join(" "));
    check("still 250 comments", r.fake.comments.length === 250);
    check("ours updated", r.fake.comments.find((c) => c.id === 231n).body.includes("memgate: 2 tests regressed"));
    check("octocat's quote untouched", r.fake.comments.find((c) => c.id === 4n).body === `quoting it: ${MARKER}`);
    check("other bot's untouched", r.fake.comments.find((c) => c.id === 8n).body === `${MARKER}\nanother bot's`);
    check("says updated", /updated comment 231 on pull request #2/.test(r.stderr), r.stderr);
  },
  // twice in a row: still one comment
  async rerun() {
    writeResult(regression());
    const r1 = await scenario({ fake: { comments: others(120) } });
    published(r1, 1);
    const again = r1.fake.comments.map((c) => ({ id: c.id, body: c.body, login: c.login }));
    const r2 = await scenario({ fake: { comments: again } });
    published(r2, 1);
    check("one comment of ours after two runs", ours(r2.fake).length === 1, ours(r2.fake).length);
    check("second run PATCHes", r2.fake.requests.filter((q) => q.method === "PATCH").length === 1 &&
      !r2.fake.requests.some((q) => q.method === "POST"));
  },
  // the marker in others' comments is not ours: a new comment is created, theirs stay
  async foreign_markers() {
    writeResult(regression());
    const r = await scenario({ fake: { comments: [
      { id: 10, body: `${MARKER}\nby a user`, login: "octocat" },
      { id: 11, body: `${MARKER}\nby another app`, login: "renovate[bot]" },
      { id: 12, body: "<!-- memgate:other.yml -->\nanother config's", login: "github-actions[bot]" },
    ] } });
    published(r, 1);
    check("created one", r.fake.requests.filter((q) => q.method === "POST").length === 1 && !r.fake.requests.some((q) => q.method === "PATCH"));
    check("others untouched", r.fake.comments.filter((c) => c.id <= 12n).map((c) => c.body.split("\n")[1]).join("|") === "by a user|by another app|another config's");
  },
  // a fork's read-only token: warning, exit per the result, summary and outputs there
  async fork_403() {
    writeResult(regression());
    const r = await scenario({ fake: { readOnly: true } });
    published(r, 1);
    check("a single POST, not retried", r.fake.requests.filter((q) => q.method === "POST").length === 1);
    check("::warning for the comment", /^::warning title=memgate::cannot comment on pull request #2: the token may not write \(HTTP 403: Resource not accessible by integration\)/m.test(r.stdout), r.stdout);
    check("stderr warning", /^memgate: warning: cannot comment on pull request #2/m.test(r.stderr), r.stderr);
  },
  // 429 with retry-after: waited for, then the comment is made
  async rate_limited() {
    writeResult(regression());
    const r = await scenario({ fake: { faults: [{ method: "GET", path: /comments$/, status: 429, times: 1,
      headers: { "retry-after": "1", "x-ratelimit-remaining": "0" }, body: { message: "API rate limit exceeded" } }] } });
    published(r, 1);
    check("listed twice", r.fake.requests.filter((q) => q.method === "GET").length === 2);
    check("created", ours(r.fake).length === 1);
    check("waited retry-after", r.ms >= 1000, r.ms);
  },
  // a primary rate limit on the create: x-ratelimit-reset is waited for, the create sent again
  async rate_limit_reset() {
    writeResult(regression());
    const reset = String(Math.floor(Date.now() / 1000) + 1);
    const r = await scenario({ fake: { faults: [{ method: "POST", path: /comments$/, status: 403, times: 1,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }, body: { message: "API rate limit exceeded for installation ID 1." } }] } });
    published(r, 1);
    check("POST sent again after the reset, no second list", r.fake.requests.map((q) => q.method).join(",") === "GET,POST,POST", r.fake.requests.map((q) => q.method).join(","));
    check("one comment", ours(r.fake).length === 1);
    check("waited for the reset", r.ms >= 500, r.ms);
  },
  // a secondary rate limit asking for longer than memgate may wait: a warning, no hang
  async rate_limited_long() {
    writeResult(regression());
    const r = await scenario({ env: { MEMGATE_GH_MAX_WAIT_MS: "2000" }, fake: { faults: [{ method: "GET", path: /comments$/, status: 403, times: 5,
      headers: { "retry-after": "120" }, body: { message: "You have exceeded a secondary rate limit" } }] } });
    published(r, 3);
    check("no retry", r.fake.requests.length === 1, r.fake.requests.length);
    check("says it", /rate limited \(HTTP 403: You have exceeded a secondary rate limit\) for 120 s more: not waiting/.test(r.stderr), r.stderr);
    check("quick", r.ms < 5000, r.ms);
  },
  // 502 (an HTML page) on the create: listed again, then created once
  async bad_gateway() {
    writeResult(regression());
    const r = await scenario({ fake: { faults: [{ method: "POST", path: /comments$/, status: 502, times: 1, html: true }] } });
    published(r, 1);
    check("two POSTs, a list before each", r.fake.requests.map((q) => q.method).join(",") === "GET,POST,GET,POST", r.fake.requests.map((q) => q.method).join(","));
    check("one comment", r.fake.comments.length === 1);
  },
  // the connection reset after the create landed (a keep-alive connection, as
  // after the list): the POST is not sent again blindly, the list finds it
  async reset_after_create() {
    writeResult(regression());
    const r = await scenario({ fake: { comments: others(3), faults: [{ method: "POST", path: /comments$/, reset: true, times: 1 }] } });
    published(r, 1);
    check("exactly one comment of ours", ours(r.fake).length === 1, ours(r.fake).length);
    check("one POST, then a list that finds it and a PATCH", r.fake.requests.map((q) => q.method).join(",") === "GET,POST,GET,PATCH", r.fake.requests.map((q) => q.method).join(","));
    // a DELETE that landed, its answer lost: the comment is gone, which is what was asked
    writeResult(pass());
    const r2 = await scenario({ args: ["--mode", "on-regression"], fake: { comments: [{ id: 5, body: `${MARKER}\nred`, login: "github-actions[bot]" }],
      faults: [{ method: "DELETE", path: /comments\/5$/, reset: true, times: 1 }] } });
    published(r2, 0);
    check("deleted once reset", r2.fake.comments.length === 0, r2.fake.comments.length);
    check("no warning for a delete that happened", !/warning/.test(r2.stderr), r2.stderr);
  },
  // 502 on a list: retried with backoff
  async bad_gateway_list() {
    writeResult(regression());
    const r = await scenario({ fake: { faults: [{ method: "GET", path: /comments$/, status: 503, times: 2 }] } });
    published(r, 1);
    check("listed three times", r.fake.requests.filter((q) => q.method === "GET").length === 3);
    check("one comment", ours(r.fake).length === 1);
  },
  // a server that never answers: bounded by the timeouts, a warning, summary and outputs still there
  async slow_server() {
    writeResult(regression());
    const r = await scenario({ env: { MEMGATE_GH_TIMEOUT_MS: "300", MEMGATE_GH_ATTEMPTS: "3", MEMGATE_GH_DEADLINE_MS: "3000" },
      fake: { faults: [{ method: "GET", path: /comments$/, hang: true, times: 100 }] } });
    published(r, 3);
    check("bounded tries", r.fake.requests.length === 3, r.fake.requests.length);
    check("bounded time", r.ms < 4000, r.ms);
    check("timeout said", /memgate: warning: GitHub API: GET \/repos\/[^ ]+\/comments\?per_page=100: .*timed out/.test(r.stderr), r.stderr);
  },
  // the runner shows 10 ::error lines per step: 10 failing tests are 10 annotations,
  // 11 are 9 and a note, never an 11th line that the runner drops
  async annotation_limit() {
    for (const [n, errors, note] of [[10, 10, null], [11, 10, "2 more failing tests"], [12, 10, "3 more failing tests"]]) {
      writeResult(bigResult(n));
      const r = await scenario({});
      published(r, 1);
      const lines = r.stdout.match(/^::error .*$/gm) || [];
      check(`${n} failing: ${errors} ::error lines`, lines.length === errors, lines.length);
      check(`${n} failing: the last says ${note || "nothing more"}`, note ? lines[lines.length - 1] === `::error title=memgate::${note}: see the job summary` : !lines.some((l) => l.includes("more failing")), lines[lines.length - 1]);
    }
  },
  // 3000 failing tests: the comment is cut under 65,536 characters, the summary under 1 MiB
  async oversized() {
    writeResult(bigResult(3000));
    const r = await scenario({});
    published(r, 1);
    const mine = ours(r.fake)[0];
    check("comment made", !!mine);
    if (mine) {
      check("comment within 65536 characters", [...mine.body].length <= 65536, [...mine.body].length);
      check("comment says where the rest is", mine.body.includes("the full report is in the job summary of this workflow run"));
    }
    check("summary within 1 MiB", Buffer.byteLength(r.summary) <= 1 << 20, Buffer.byteLength(r.summary));
    check("summary cut with a note", r.summary.includes("memgate cut this report"));
    check("9 annotations and a count: the 10 the runner shows", (r.stdout.match(/^::error /gm) || []).length === 10 && r.stdout.includes("::error title=memgate::2991 more failing tests"), r.stdout.slice(-300));
  },
  // GitHub Enterprise Server: the base URL has a path, kept verbatim, in the Link pages too
  async ghes() {
    writeResult(regression());
    const existing = others(150);
    existing[140] = { id: 141, body: `${MARKER}\nold`, login: "github-actions[bot]" };
    const r = await scenario({ fake: { prefix: "/api/v3", comments: existing } });
    published(r, 1);
    const urls = r.fake.requests.map((q) => `${q.method} ${q.url}`);
    check("GHES paths", urls.join(" ") === `GET /api/v3/repos/${OWNER}/${REPO}/issues/${PR}/comments?per_page=100 GET /api/v3/repositories/${REPO_ID}/issues/${PR}/comments?per_page=100&page=2 PATCH /api/v3/repos/${OWNER}/${REPO}/issues/comments/141`, urls.join(" "));
  },
  // ids past 2^53 stay exact, and new ids past 2^31 are reported exactly
  async big_ids() {
    writeResult(regression());
    const big = 9007199254740993n;   // 2^53 + 1: not a double
    const r = await scenario({ fake: { comments: [{ id: big - 1n, body: "x", login: "octocat" }, { id: big, body: `${MARKER}\nold`, login: "github-actions[bot]" }] } });
    published(r, 1);
    const patch = r.fake.requests.find((q) => q.method === "PATCH");
    check("PATCH of the exact id", patch && patch.url.endsWith(`/issues/comments/${big}`), patch && patch.url);
    const r2 = await scenario({ fake: { nextId: 4294967297n } });
    check("created id > 2^32 reported", /created comment 4294967297 on pull request #2/.test(r2.stderr), r2.stderr);
  },
  // auto: a passing run creates nothing, but turns an earlier comment green
  async pass_auto() {
    writeResult(pass());
    const r = await scenario({});
    published(r, 0);
    check("no comment on a pass", r.fake.comments.length === 0 && !r.fake.requests.some((q) => q.method !== "GET"));
    const r2 = await scenario({ fake: { comments: [{ id: 5, body: `${MARKER}\nred`, login: "github-actions[bot]" }] } });
    published(r2, 0);
    check("earlier comment updated to green", r2.fake.comments[0].body.includes("no heap regression"), r2.fake.comments[0].body.slice(0, 200));
    check("no annotations on a pass", !/^::error/m.test(r2.stdout), r2.stdout);
  },
  // on-regression: the comment goes away once the gate passes; always: a pass is posted
  async modes() {
    writeResult(pass());
    const r = await scenario({ args: ["--mode", "on-regression"], fake: { comments: [{ id: 5, body: `${MARKER}\nred`, login: "github-actions[bot]" }] } });
    published(r, 0);
    check("deleted", r.fake.comments.length === 0 && r.fake.requests.some((q) => q.method === "DELETE"));
    const r2 = await scenario({ env: { MEMGATE_COMMENT: "always" } });
    published(r2, 0);
    check("always: created on a pass", ours(r2.fake).length === 1);
    const r3 = await scenario({ args: ["--mode", "never"] });
    published(r3, 0);
    check("never: no request", r3.fake.requests.length === 0);
    const r4 = await scenario({ args: ["--mode", "sometimes"] });
    check("bad mode exits 2", r4.code === 2 && /--mode: comment mode: expected auto, always, on-regression or never, got 'sometimes'/.test(r4.stderr), r4.stderr);
  },
  // the fork-safe flow: a workflow_run event, with the PR in the payload or (a fork's) from the artifact
  async workflow_run() {
    writeResult(regression());
    const r = await scenario({ eventName: "workflow_run", event: workflowRunEvent([{ number: PR, id: 1, url: "x", head: { ref: "b", sha: HEAD, repo: {} }, base: { ref: "main", sha: HEAD, repo: {} } }]) });
    published(r, 1);
    check("commented from the payload", ours(r.fake).length === 1);
    const pull = { ...prEvent.pull_request };
    const r2 = await scenario({ eventName: "workflow_run", event: workflowRunEvent([]), args: ["--pr", String(PR)], fake: { pull, skipResponseSchema: true } });
    published(r2, 1);
    check("fork: PR checked, then commented", r2.fake.requests[0].url === `/repos/${OWNER}/${REPO}/pulls/${PR}` && ours(r2.fake).length === 1, r2.fake.requests.map((q) => q.url).join(" "));
    const r3 = await scenario({ eventName: "workflow_run", event: workflowRunEvent([]), args: ["--pr", String(PR)], fake: { pull: { ...pull, head: { ...pull.head, sha: "0".repeat(40) } }, skipResponseSchema: true } });
    published(r3, 1);
    check("fork: wrong head refused", r3.fake.comments.length === 0 && /head is 000000000000, not the run's ec26c3e57ca3/.test(r3.stderr), r3.stderr);
    const r4 = await scenario({ eventName: "workflow_run", event: workflowRunEvent([]) });
    published(r4, 1);
    check("no PR, no --pr: no request, said", r4.fake.requests.length === 0 && /names no pull request/.test(r4.stderr), r4.stderr);
  },
  // the action's gate step (action/check.sh) on a real repository: check against
  // origin/<base branch>, then comment publishes what check wrote
  async action_flow() {
    const { execFileSync } = require("child_process");
    const src = path.resolve(__dirname, "..", "..");
    const [fxBasic, fxAtexit] = process.argv.slice(6);
    const env = { PATH: process.env.PATH, HOME: work, GIT_CONFIG_NOSYSTEM: "1", GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com",
      ASAN_OPTIONS: process.env.ASAN_OPTIONS || "", UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || "" };
    const sh = (cwd, cmd, ...a) => execFileSync(cmd, a, { cwd, env, stdio: "pipe" });
    const origin = path.join(work, "origin"), clone = path.join(work, "clone");
    fs.mkdirSync(origin);
    sh(origin, "git", "init", "-q", "-b", "main");
    fs.writeFileSync(path.join(origin, "memgate.yml"), `version: 1\ntests:\n  - name: basic\n    run: [${fxBasic}]\n`);
    fs.writeFileSync(path.join(origin, ".gitignore"), "profiles/\n");
    sh(origin, memgate, "run");
    sh(origin, memgate, "accept", "--reason", "first");
    sh(origin, "git", "add", ".");
    sh(origin, "git", "commit", "-qm", "base");
    sh(work, "git", "clone", "-q", origin, clone);
    sh(clone, "git", "checkout", "-qb", "feature");
    fs.writeFileSync(path.join(clone, "memgate.yml"), `version: 1\ntests:\n  - name: basic\n    run: [${fxAtexit}]\n`);
    sh(clone, "git", "commit", "-qam", "more");
    const gate = (extra) => scenario({ cwd: clone, cmd: ["bash", path.join(src, "action", "check.sh")], env: {
      ...env, PATH: `${path.dirname(memgate)}:${process.env.PATH}`, GITHUB_BASE_REF: "main", GITHUB_JOB: "gate",
      GITHUB_ACTION_PATH: src, MEMGATE_CONFIG: "memgate.yml", MEMGATE_BASELINE: "", MEMGATE_COMMENT: "auto",
      MEMGATE_ARTIFACT_NAME: "", ...extra } });
    const r = await gate({ MEMGATE_FAIL_ON_REGRESSION: "true" });
    published(r, 1);
    check("checked against origin/main", /baselines of 'origin\/main'/.test(r.stderr), r.stderr);
    check("outputs", r.outputs && r.outputs.verdict === "regression" && r.outputs.regressions === "1" &&
      r.outputs["artifact-name"] === "memgate-profiles-gate" && r.outputs["result-dir"] === path.join(fs.realpathSync(clone), "profiles"),
      JSON.stringify(r.outputs && { ...r.outputs, report: undefined }));
    const mine = ours(r.fake);
    check("comment names the new leak site", mine.length === 1 && mine[0].body.includes("<code>make_z (atexit.c:38)</code>"), mine[0] && mine[0].body);
    check("annotation", /^::error title=memgate%3A basic regressed::total_bytes 676 B > allowed 381 B/m.test(r.stdout), r.stdout);
    const again = r.fake.comments.map((c) => ({ id: c.id, body: c.body, login: c.login }));
    const r2 = await gate({ MEMGATE_FAIL_ON_REGRESSION: "false" });
    check("fail-on-regression: false passes the step", r2.code === 0, `${r2.code} ${r2.stderr}`);
    const r3 = await gate({ MEMGATE_FAIL_ON_REGRESSION: "maybe" });
    check("a bad fail-on-regression exits 2", r3.code === 2 && /fail-on-regression: expected true or false/.test(r3.stdout), r3.stdout);
    const r4 = await scenario({ cwd: clone, cmd: ["bash", path.join(src, "action", "check.sh")], fake: { comments: again }, env: {
      ...env, PATH: `${path.dirname(memgate)}:${process.env.PATH}`, GITHUB_BASE_REF: "main", GITHUB_JOB: "gate",
      MEMGATE_CONFIG: "nosuch.yml", MEMGATE_FAIL_ON_REGRESSION: "true" } });
    check("check's own error: its exit code, nothing published", r4.code === 2 && r4.fake.requests.length === 0 &&
      /memgate check could not decide \(exit 2\)/.test(r4.stdout), `${r4.code} ${r4.stdout} ${r4.stderr}`);
  },
  // a renamed repository answers 307 to its /repositories/{id} form: followed with the method,
  // body and headers; an issue_comment event on a pull request names it too
  async redirect() {
    writeResult(regression());
    const to = `/repositories/${REPO_ID}/issues/${PR}/comments`;
    const r = await scenario({ fake: { faults: [{ method: "POST", path: /comments$/, status: 307, times: 1,
      headers: { location: to }, body: { message: "Temporary Redirect" } }] } });
    published(r, 1);
    check("POST followed to the new location", r.fake.requests.map((q) => `${q.method} ${q.url.split("?")[0]}`).join(",") ===
      `GET /repos/${OWNER}/${REPO}/issues/${PR}/comments,POST /repos/${OWNER}/${REPO}/issues/${PR}/comments,POST ${to}`,
      r.fake.requests.map((q) => `${q.method} ${q.url}`).join(","));
    check("created once, with its body", ours(r.fake).length === 1 && r.fake.requests[2].body.includes(MARKER));
    // the package's issue_comment examples are all on issues: one made a pull request's
    const ic = examples.find((e) => e.name === "issue_comment").examples[0];
    {
      const ev = JSON.parse(JSON.stringify(ic));
      ev.issue.number = PR;
      ev.issue.pull_request = { url: `https://api.github.com/repos/${OWNER}/${REPO}/pulls/${PR}`,
        html_url: `https://github.com/${OWNER}/${REPO}/pull/${PR}` };
      const r2 = await scenario({ eventName: "issue_comment", event: ev });
      published(r2, 1);
      check("issue_comment on a pull request", ours(r2.fake).length === 1);
      delete ev.issue.pull_request;
      const r3 = await scenario({ eventName: "issue_comment", event: ev });
      check("issue_comment on an issue: no comment", r3.fake.requests.length === 0 && /not about a pull request/.test(r3.stderr), r3.stderr);
    }
  },
  // a push has no pull request; no token is a usage error; outside Actions: markdown on stdout
  async no_pr() {
    writeResult(regression());
    const r = await scenario({ eventName: "push" });
    published(r, 1);
    check("push: no request", r.fake.requests.length === 0 && /not about a pull request: no comment/.test(r.stderr), r.stderr);
    const r2 = await scenario({ env: { GITHUB_TOKEN: undefined } });
    check("no token: exit 2", r2.code === 2 && /no GitHub token/.test(r2.stderr), r2.stderr);
    check("no token: summary still written", r2.summary && r2.summary.includes("memgate"));
    const r3 = await scenario({ env: { GITHUB_ACTIONS: undefined } });
    check("outside Actions: markdown on stdout, nothing sent", r3.code === 1 && r3.stdout.startsWith(MARKER) && r3.fake.requests.length === 0 && r3.summary === null, r3.stdout.slice(0, 100));
    writeResult("{\"schema\": 1, \"tests\": ");
    const r4 = await scenario({});
    check("corrupt result exits 3", r4.code === 3 && /memgate-check.json:1:24: expected a value, got end of input/.test(r4.stderr), r4.stderr);
    fs.rmSync(path.join(work, "profiles", "memgate-check.json"));
    const r5 = await scenario({});
    check("no result exits 2", r5.code === 2 && /no check result 'profiles\/memgate-check.json' \(run 'memgate check' first\)/.test(r5.stderr), r5.stderr);
  },
};

(async () => {
  if (!cases[caseName]) {
    console.error(`no case '${caseName}': ${Object.keys(cases).join(" ")}`);
    process.exit(2);
  }
  try {
    await cases[caseName]();
  } catch (e) {
    check("no exception", false, e.stack);
  }
  console.log(failed ? `${caseName}: ${failed} check(s) failed` : `ok: ${caseName}`);
  process.exit(failed ? 1 : 0);
})();
