// fake_github.js - a loopback stand-in for GitHub's REST API (issue comments, pulls/get)
//
// Every request is checked against GitHub's own OpenAPI description
// (@octokit/openapi, api.github.com): the method and path exist, path and
// query parameters have the declared types, the headers GitHub requires are
// there, and the JSON body validates (ajv) against the operation's request
// schema; the comment body stays within GitHub's 65,536 characters.  Any
// violation is recorded and fails the test.  Answers are shaped as GitHub's
// (and checked against the response schemas too): Link headers with
// /repositories/{id}/... next URLs, x-ratelimit-* headers, 64-bit ids kept
// exact (BigInt), 403 "Resource not accessible by integration" for a
// read-only token.  Listens on 127.0.0.1 only, on a port the kernel picks.
"use strict";
const http = require("http");
const path = require("path");
const { createRequire } = require("module");
const nodeRequire = createRequire(path.join(__dirname, "..", "node", "package.json"));
const Ajv = nodeRequire("ajv");
const addFormats = nodeRequire("ajv-formats");

let specCache = null;
function spec() {
  if (!specCache) {
    // the single file: require("@octokit/openapi") would parse all ten (GITHUB-NOTES §11.1)
    const s = nodeRequire("@octokit/openapi/generated/api.github.com.json");
    const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ components: s.components }, "spec");
    const routes = [];
    for (const [tmpl, ops] of Object.entries(s.paths)) {
      const segs = tmpl.split("/");
      for (const method of ["get", "post", "patch", "delete", "put"]) {
        if (ops[method]) routes.push({ tmpl, segs, method: method.toUpperCase(), op: ops[method] });
      }
    }
    specCache = { s, ajv, routes, compiled: new Map() };
  }
  return specCache;
}

function deref(s, obj) {
  while (obj && obj.$ref) {
    obj = obj.$ref.replace(/^#\//, "").split("/").reduce((o, k) => o[k.replace(/~1/g, "/").replace(/~0/g, "~")], s);
  }
  return obj;
}

function validator(key, schema) {
  const sp = spec();
  if (!sp.compiled.has(key)) {
    // refs inside are "#/components/...": point them at the registered "spec"
    const json = JSON.stringify(schema).replace(/"#\/components\//g, '"spec#/components/');
    sp.compiled.set(key, sp.ajv.compile(JSON.parse(json)));
  }
  return sp.compiled.get(key);
}

function route(method, pathname) {
  const segs = pathname.split("/");
  let best = null;
  for (const r of spec().routes) {
    if (r.method !== method || r.segs.length !== segs.length) continue;
    let literal = 0, ok = true;
    const params = {};
    for (let i = 0; i < segs.length && ok; i++) {
      const m = /^\{(.+)\}$/.exec(r.segs[i]);
      if (m) params[m[1]] = decodeURIComponent(segs[i]);
      else if (r.segs[i] === segs[i]) literal++;
      else ok = false;
    }
    if (ok && (!best || literal > best.literal)) best = { ...r, params, literal };
  }
  return best;
}

// JSON with BigInt ids written as exact integers
function toJSON(v) {
  return JSON.stringify(v, (k, x) => (typeof x === "bigint" ? `__big__${x}` : x)).replace(/"__big__(-?\d+)"/g, "$1");
}
function forSchema(v) {
  return JSON.parse(JSON.stringify(v, (k, x) => (typeof x === "bigint" ? Number(x) : x)));
}

function user(login, id, type) {
  const u = `https://api.github.com/users/${encodeURIComponent(login)}`;
  return {
    login, id, node_id: `MDQ6VXNlcj${id}`, avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: "", url: u, html_url: `https://github.com/apps/${encodeURIComponent(login.replace("[bot]", ""))}`, followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`, gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`, subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`, repos_url: `${u}/repos`, events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`, type, site_admin: false,
  };
}
const USERS = {
  "github-actions[bot]": user("github-actions[bot]", 41898282, "Bot"),
};
function userFor(login) {
  if (!USERS[login]) USERS[login] = user(login, 1000 + Object.keys(USERS).length, login.endsWith("[bot]") ? "Bot" : "User");
  return USERS[login];
}

// opts: { token, owner, repo, repoId, pr, prefix ("" or "/api/v3"), comments: [{id, body, login}],
//         readOnly, delayMs, faults: [{method, path (RegExp), status, times, headers, body}],
//         (a fault with `reset: true` does the request, then resets the connection
//         instead of answering: a create that landed, its answer lost)
//         pull: {head sha} , nextId (BigInt) }
function startFake(opts) {
  spec();   // loaded before listening: a first request must not wait for it (timeouts are tested)
  const state = {
    comments: (opts.comments || []).map((c) => ({ ...c, id: BigInt(c.id) })),
    requests: [],
    violations: [],
    nextId: BigInt(opts.nextId || 3000000001n),
  };
  const prefix = opts.prefix || "";
  const full = `${opts.owner}/${opts.repo}`;
  const faults = (opts.faults || []).map((f) => ({ ...f, left: f.times || 1 }));
  const sockets = new Set();

  function violation(req, what) {
    state.violations.push(`${req.method} ${req.url}: ${what}`);
  }

  function comment(c, base) {
    const api = `${base}/repos/${full}`;
    return {
      url: `${api}/issues/comments/${c.id}`, html_url: `https://github.com/${full}/pull/${opts.pr}#issuecomment-${c.id}`,
      issue_url: `${api}/issues/${opts.pr}`, id: c.id, node_id: `IC_kwDO${c.id}`, user: userFor(c.login),
      created_at: "2026-11-01T10:00:00Z", updated_at: c.updated || "2026-11-01T10:00:00Z",
      author_association: c.login.endsWith("[bot]") ? "NONE" : "CONTRIBUTOR", body: c.body,
      reactions: { url: `${api}/issues/comments/${c.id}/reactions`, total_count: 0, "+1": 0, "-1": 0,
        laugh: 0, hooray: 0, confused: 0, heart: 0, rocket: 0, eyes: 0 },
      performed_via_github_app: null,
    };
  }

  function checkRequest(req, url, raw, r) {
    const h = req.headers;
    if (!/^memgate\/\d+\.\d+\.\d+$/.test(h["user-agent"] || "")) violation(req, `User-Agent '${h["user-agent"]}'`);
    if (h.accept !== "application/vnd.github+json") violation(req, `Accept '${h.accept}'`);
    if (h["x-github-api-version"] !== "2022-11-28") violation(req, `X-GitHub-Api-Version '${h["x-github-api-version"]}'`);
    if (h.authorization !== `Bearer ${opts.token}`) violation(req, "Authorization is not 'Bearer <token>'");
    for (const p of (r.op.parameters || []).map((x) => deref(spec().s, x))) {
      if (p.in === "path") {
        const v = r.params[p.name];
        if (p.schema.type === "integer" && !/^[1-9][0-9]*$/.test(v)) violation(req, `path ${p.name} '${v}' not an integer`);
        if (p.name === "owner" && v !== opts.owner) violation(req, `owner '${v}'`);
        if (p.name === "repo" && v !== opts.repo) violation(req, `repo '${v}'`);
      } else if (p.in === "query" && url.searchParams.has(p.name)) {
        const v = url.searchParams.get(p.name);
        if (p.schema.type === "integer" && !/^[0-9]+$/.test(v)) violation(req, `query ${p.name} '${v}' not an integer`);
        if (p.name === "per_page" && +v > 100) violation(req, `per_page ${v} > 100`);
      }
    }
    const known = new Set((r.op.parameters || []).map((x) => deref(spec().s, x)).filter((p) => p.in === "query").map((p) => p.name));
    for (const k of url.searchParams.keys()) if (!known.has(k)) violation(req, `unknown query parameter '${k}'`);
    const rb = deref(spec().s, r.op.requestBody);
    if (!rb) {
      if (raw.length) violation(req, "a body where the operation takes none");
      return null;
    }
    if (h["content-type"] !== "application/json") violation(req, `Content-Type '${h["content-type"]}'`);
    let body;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (e) {
      violation(req, `body is not JSON: ${e.message}`);
      return null;
    }
    if (!Buffer.from(raw.toString("utf8"), "utf8").equals(raw)) violation(req, "body is not valid UTF-8");
    const v = validator(`${r.method} ${r.tmpl}`, rb.content["application/json"].schema);
    if (!v(body)) violation(req, `body: ${JSON.stringify(v.errors)}`);
    if (typeof body.body === "string" && [...body.body].length > 65536)
      violation(req, `comment body of ${[...body.body].length} characters (GitHub's maximum is 65536)`);
    return body;
  }

  function send(res, req, status, obj, headers, r) {
    if (req.resetInstead) return req.socket.resetAndDestroy();
    if (r && obj !== null && status >= 200 && status < 300) {
      const resp = deref(spec().s, r.op.responses[String(status)]);
      const sch = resp && resp.content && resp.content["application/json"];
      if (!sch) state.violations.push(`fake: ${r.method} ${r.tmpl} has no ${status} response in the spec`);
      else if (!opts.skipResponseSchema) {
        const v = validator(`resp ${status} ${r.method} ${r.tmpl}`, sch.schema);
        if (!v(forSchema(obj))) state.violations.push(`fake's own ${status} answer: ${JSON.stringify(v.errors).slice(0, 500)}`);
      }
    }
    const text = obj === null ? "" : toJSON(obj);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "x-github-api-version-selected": "2022-11-28",
      "x-ratelimit-limit": "1000", "x-ratelimit-remaining": "999", "x-ratelimit-used": "1",
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600), "x-ratelimit-resource": "core",
      ...(headers || {}),
    });
    res.end(text);
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => setTimeout(() => handle(req, res, Buffer.concat(chunks)), opts.delayMs || 0));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  function handle(req, res, raw) {
    const base = `http://127.0.0.1:${server.address().port}${prefix}`;
    const url = new URL(req.url, "http://127.0.0.1");
    state.requests.push({ method: req.method, url: req.url, body: raw.toString("utf8") });
    if (!url.pathname.startsWith(prefix + "/")) {
      violation(req, `not under the API's base path '${prefix}/'`);
      return send(res, req, 404, { message: "Not Found" });
    }
    let p = url.pathname.slice(prefix.length);
    // GitHub's own next-page links name the repository by id (GITHUB-NOTES §6)
    const byId = /^\/repositories\/(\d+)(\/.*)$/.exec(p);
    if (byId) {
      if (+byId[1] !== opts.repoId) violation(req, `repository id ${byId[1]}`);
      p = `/repos/${full}${byId[2]}`;
    }
    const r = route(req.method, p);
    if (!r) {
      violation(req, `no ${req.method} ${p} in GitHub's OpenAPI description`);
      return send(res, req, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
    }
    const body = checkRequest(req, url, raw, r);
    for (const f of faults) {
      if (f.left > 0 && f.method === req.method && f.path.test(p)) {
        f.left--;
        if (f.hang) return;                  // never answers: the client's timeout must end it
        if (f.reset) {
          req.resetInstead = true;
          break;
        }
        res.writeHead(f.status, { "content-type": f.html ? "text/html" : "application/json; charset=utf-8", ...(f.headers || {}) });
        return res.end(f.html ? "<html><body><h1>502 Bad Gateway</h1></body></html>" : JSON.stringify(f.body || { message: "fault" }));
      }
    }
    const write = req.method !== "GET";
    if (write && opts.readOnly) {
      return send(res, req, 403, { message: "Resource not accessible by integration",
        documentation_url: "https://docs.github.com/rest/issues/comments#create-an-issue-comment", status: "403" },
        { "x-accepted-github-permissions": "issues=write; pull_requests=write" });
    }
    const P = r.params;
    if (r.tmpl === "/repos/{owner}/{repo}/issues/{issue_number}/comments") {
      if (+P.issue_number !== opts.pr) return send(res, req, 404, { message: "Not Found" });
      if (req.method === "GET") {
        const per = Math.min(+(url.searchParams.get("per_page") || 30), 100);
        const page = +(url.searchParams.get("page") || 1);
        const all = [...state.comments].sort((a, b) => (a.id < b.id ? -1 : 1));
        const last = Math.max(1, Math.ceil(all.length / per));
        const items = all.slice((page - 1) * per, page * per).map((c) => comment(c, base));
        const link = (n) => `<${base}/repositories/${opts.repoId}/issues/${opts.pr}/comments?per_page=${per}&page=${n}>`;
        const rels = [];
        if (page > 1) rels.push(`${link(page - 1)}; rel="prev"`);
        if (page < last) rels.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
        if (page > 1) rels.push(`${link(1)}; rel="first"`);
        return send(res, req, 200, items, rels.length ? { link: rels.join(", ") } : {}, r);
      }
      const c = { id: state.nextId++, body: body.body, login: opts.login || "github-actions[bot]" };
      state.comments.push(c);
      return send(res, req, 201, comment(c, base), { location: `${base}/repos/${full}/issues/comments/${c.id}` }, r);
    }
    if (r.tmpl === "/repos/{owner}/{repo}/issues/comments/{comment_id}") {
      const c = state.comments.find((x) => x.id === BigInt(P.comment_id));
      if (!c) return send(res, req, 404, { message: "Not Found" });
      if (req.method === "PATCH") {
        if ((opts.login || "github-actions[bot]") !== c.login) violation(req, `edits ${c.login}'s comment`);
        c.body = body.body;
        c.updated = "2026-11-02T10:00:00Z";
        return send(res, req, 200, comment(c, base), {}, r);
      }
      if (req.method === "DELETE") {
        if ((opts.login || "github-actions[bot]") !== c.login) violation(req, `deletes ${c.login}'s comment`);
        state.comments = state.comments.filter((x) => x !== c);
        return send(res, req, 204, null, {}, r);
      }
      return send(res, req, 200, comment(c, base), {}, r);
    }
    if (r.tmpl === "/repos/{owner}/{repo}/pulls/{pull_number}" && opts.pull) {
      if (+P.pull_number !== opts.pr) return send(res, req, 404, { message: "Not Found" });
      return send(res, req, 200, opts.pull, {}, null);
    }
    violation(req, `the fake does not implement ${r.method} ${r.tmpl}`);
    return send(res, req, 501, { message: "not implemented by the fake" });
  }

  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port;
      resolve({
        port, base: `http://127.0.0.1:${port}${prefix}`, state,
        close: () => new Promise((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

module.exports = { startFake, spec };
