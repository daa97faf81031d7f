/* report.js - the memgate HTML report: timeline, flame graph, call sites, baseline diff
 *
 * src/report/html.c embeds this file and the profile (and baseline) as JSON
 * in <script type="application/json" id="memgate-data">.  Every text from the
 * data goes through textContent or SVG text nodes, never through HTML parsing.
 * No network, no framework.
 */
"use strict";

(function () {
	const SVG_NS = "http://www.w3.org/2000/svg";
	const ROW_H = 18;          /* flame graph row height, px */
	const MIN_W = 0.5;         /* narrower rectangles (and their subtrees) are not drawn */
	const LABEL_W = 28;        /* narrower rectangles get no label */
	const TABLE_ROWS = 200;
	const MAX_TIMELINES = 12;  /* processes drawn over time */

	/* the "stacks" columns (docs/profile-schema.md) */
	const COL = { total_bytes: 1, allocs: 2, peak_bytes: 3, peak_blocks: 4, leaked_bytes: 5, leaked_blocks: 6 };
	const MODES = {
		peak:  { label: "live at the peak", bytes: COL.peak_bytes, count: COL.peak_blocks, unit: "blocks", peakOnly: true },
		leaks: { label: "leaked (live at exit)", bytes: COL.leaked_bytes, count: COL.leaked_blocks, unit: "blocks" },
		total: { label: "all allocations", bytes: COL.total_bytes, count: COL.allocs, unit: "allocations" },
	};

	const timing = { start: performance.now() };
	const data = JSON.parse(document.getElementById("memgate-data").textContent);
	timing.parsed = performance.now();
	const profile = data.profile;
	const baseline = data.baseline || null;
	const procs = profile.processes || [];
	const RULES = data.site_rules || {};   /* src/core/sites.c's tables */
	const SITE_FRAMES = RULES.frames || 4; /* frames naming a call site, as src/core/sites.c */
	expandStacks();

	/* ---------------------------------------------------------------- helpers */

	function el(tag, attrs, text) {
		const e = document.createElement(tag);
		for (const k in attrs || {})
			e.setAttribute(k, attrs[k]);
		if (text !== undefined)
			e.textContent = text;
		return e;
	}

	function svg(tag, attrs) {
		const e = document.createElementNS(SVG_NS, tag);
		for (const k in attrs || {})
			e.setAttribute(k, attrs[k]);
		return e;
	}

	function fmtBytes(v) {
		const units = ["B", "KiB", "MiB", "GiB", "TiB"];
		let d = v, u = 0;
		while (d >= 1024 && u < units.length - 1) {
			d /= 1024;
			u++;
		}
		return u ? d.toFixed(1) + " " + units[u] : v + " B";
	}

	function fmtInt(v) {
		return v === null || v === undefined ? "n/a" : v.toLocaleString("en-US");
	}

	function pct(v, total) {
		return total ? (100 * v / total).toFixed(total > 0 && v / total < 0.001 ? 3 : 1) + "%" : "0%";
	}

	function basename(path) {
		return path ? path.slice(path.lastIndexOf("/") + 1) : path;
	}

	/*
	 * The stack table as written (docs/profile-schema.md, "Every stack"):
	 * strings, modules and frames as arrays, each stack a node of a tree of
	 * [frame, parent] pairs.  Turned into frame objects and, per stack, its
	 * frame indices innermost first, which is what the code below reads.
	 */
	function expandStacks() {
		const strings = profile.strings || [];
		const str = i => i === null || i === undefined ? null : strings[i];
		const hex = v => typeof v === "string" ? v : "0x" + v.toString(16);
		for (const p of procs) {
			if (!p.nodes)
				continue;
			const mods = p.modules || [], nodes = p.nodes;
			p.frames = (p.frames || []).map(f => {
				const m = f[3] === null ? null : mods[f[3]];
				return { function: str(f[0]), file: str(f[1]), line: f[2], inlined: f.length > 5,
					module: m ? str(m[0]) : null, offset: hex(f[4]), addr: m ? hex(m[1] + f[4]) : hex(f[4]) };
			});
			p.stacks = (p.stacks || []).map(s => {
				const fr = [];
				for (let n = s[0]; n >= 0 && fr.length <= nodes.length; n = nodes[2 * n + 1])
					fr.push(nodes[2 * n]);
				const row = s.slice();
				row[0] = fr;
				return row;
			});
		}
	}

	/* a frame's name in the flame graph: its function, else module+offset */
	function frameName(f) {
		if (f.function)
			return f.function;
		if (f.module)
			return basename(f.module) + "+" + f.offset;
		return "[unknown " + f.addr + "]";
	}

	/* a frame as baselines name it: "fn (file:line)", "fn", or "module+0xoffset" */
	function siteFrame(f) {
		if (f.function && f.file)
			return f.function + " (" + basename(f.file) + ":" + (f.line || 0) + ")";
		if (f.function)
			return f.function;
		return (f.module ? basename(f.module) : "?") + "+" + (f.offset || "0x0");
	}

	/* call sites as src/core/sites.c chooses them (mg_site_choose, mg_site_name) */
	function globRe(g) {
		return new RegExp("^" + g.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
	}
	const PLUMBING = (RULES.plumbing || []).map(globRe);
	const startsAny = (s, list) => !!s && (list || []).some(p => s.startsWith(p));
	function rustLibraryFile(file) {
		let lib = null;
		if (!file)
			return false;
		if (file.startsWith("library/"))
			lib = file.slice(8);
		else if ((file.startsWith("/rustc/") || file.includes("/rustlib/src/rust/")) && file.includes("/library/"))
			lib = file.slice(file.indexOf("/library/") + 9);
		return lib !== null && startsAny(lib, RULES.rust_crates);
	}
	/* GoogleTest's functions, also after a return type (sites.c, gtest_function) */
	function gtestFunction(fn) {
		if (startsAny(fn, RULES.gtest_functions))
			return true;
		let depth = 0;
		for (let i = 0; fn && i < fn.length && fn[i] !== "("; i++) {
			if (fn[i] === "<")
				depth++;
			else if (fn[i] === ">" && depth > 0)
				depth--;
			else if (fn[i] === " " && !depth && startsAny(fn.slice(i + 1), RULES.gtest_functions))
				return true;
		}
		return false;
	}
	function isLibrary(f) {
		return startsAny(f.module, RULES.system_dirs) || startsAny(basename(f.module || ""), RULES.runtime_libs) ||
			rustLibraryFile(f.file) || startsAny(f.file, RULES.header_dirs) ||
			(!!f.file && (RULES.vendored_files || []).some(p => f.file.includes(p))) ||
			startsAny(f.file, RULES.rust_std_deps_dirs) ||
			((!f.file || !f.file.startsWith("/")) && startsAny(f.function, RULES.rust_std_deps)) ||
			(!!f.file && (RULES.gtest_dirs || []).some(p => f.file.includes(p))) ||
			startsAny(basename(f.module || ""), RULES.gtest_libs) ||
			(!f.file && gtestFunction(f.function)) ||
			(!f.file && startsAny(f.function, RULES.rust_functions));
	}
	const isPlumbing = f => !!f.function && PLUMBING.some(re => re.test(f.function));
	const isProgram = f => !isLibrary(f) && !isPlumbing(f);
	/* the site of frames fs (innermost first): the program's innermost frame and its callers in the program */
	function siteName(fs) {
		if (!fs.length)
			return "(no stack)";
		let first = fs.findIndex(isProgram);
		if (first < 0)
			first = Math.max(0, fs.findIndex(f => f.function && !isPlumbing(f)));
		const prog = isProgram(fs[first]), out = [];
		for (let i = first; i < fs.length && out.length < SITE_FRAMES; i++) {
			if (i > first && prog && !isProgram(fs[i]))
				break;
			out.push(siteFrame(fs[i]));
		}
		return out.join(" < ");
	}

	function procName(p) {
		const a0 = p.argv && p.argv.length ? p.argv[0] : p.exe;
		return (basename(a0) || "[process]") + " (pid " + p.pid + ")";
	}

	/* the process whose peak is the test's: largest bytes, then most blocks (trace.c) */
	function peakProcess() {
		let best = -1;
		procs.forEach((p, i) => {
			if (best < 0 || p.peak_bytes > procs[best].peak_bytes ||
			    (p.peak_bytes === procs[best].peak_bytes && p.peak_blocks > procs[best].peak_blocks))
				best = i;
		});
		return best;
	}
	const peakIdx = peakProcess();

	/* ---------------------------------------------------------------- header */

	function renderHeader() {
		const t = profile.test || {};
		document.title = "memgate: " + (t.name || "profile");
		document.getElementById("test-name").textContent = t.name || "";
		const meta = document.getElementById("meta");
		const env = profile.environment || {};
		const parts = [];
		if (t.argv)
			parts.push(t.argv.join(" "));
		if (profile.commit)
			parts.push("commit " + profile.commit.slice(0, 12) + (profile.dirty ? " (dirty)" : ""));
		parts.push("memgate " + profile.memgate_version);
		if (env.libc)
			parts.push("glibc " + env.libc + ", " + env.arch);
		parts.push(procs.length + (procs.length === 1 ? " process" : " processes"));
		if (!profile.complete)
			parts.push("INCOMPLETE: a process crashed, was killed or timed out");
		meta.textContent = parts.join(" · ");

		const s = profile.summary || {};
		const base = baseline ? baseline.figures || {} : null;
		const box = document.getElementById("figures");
		const figs = [
			["peak_bytes", "peak", true], ["peak_blocks", "blocks at peak", false],
			["total_bytes", "allocated", true], ["allocs", "allocations", false],
			["frees", "frees", false], ["leaked_bytes", "leaked", true],
			["leaked_blocks", "leaked blocks", false],
			["definitely_lost_bytes", "definitely lost", true],
			["rss_peak_bytes", "peak RSS", true],
		];
		for (const [key, label, bytes] of figs) {
			const v = s[key];
			const f = el("div", { class: "figure", "data-key": key });
			f.appendChild(el("div", { class: "label" }, label));
			f.appendChild(el("div", { class: "value", title: fmtInt(v) },
				v === null || v === undefined ? "n/a" : bytes ? fmtBytes(v) : fmtInt(v)));
			if (base && typeof base[key] === "number" && typeof v === "number" && key !== "rss_peak_bytes") {
				const d = v - base[key];
				const txt = (d > 0 ? "+" : d < 0 ? "−" : "±") + (bytes ? fmtBytes(Math.abs(d)) : fmtInt(Math.abs(d))) +
					" vs baseline";
				const de = el("div", { class: "delta" }, txt);
				de.style.color = d > 0 ? "var(--grew)" : d < 0 ? "var(--shrank)" : "var(--muted)";
				f.appendChild(de);
			}
			box.appendChild(f);
		}
		const warn = document.getElementById("warnings");
		for (const w of profile.warnings || [])
			warn.appendChild(el("div", { class: "warning" }, "warning: " + w));
	}

	/* ---------------------------------------------------------------- timeline */

	function renderTimelines() {
		const box = document.getElementById("timelines");
		const W = 1000, H = 160, L = 64, R = 12, T = 14, B = 20;
		/* many processes: the largest peaks, in start order */
		const shown = procs.map((p, i) => i).sort((a, b) => procs[b].peak_bytes - procs[a].peak_bytes)
			.slice(0, MAX_TIMELINES).sort((a, b) => a - b);
		if (shown.length < procs.length)
			box.appendChild(el("p", { class: "note" }, "The " + shown.length + " processes with the largest peaks of " +
				procs.length + "; the flame graphs and tables cover them all."));
		shown.forEach(i => {
			const p = procs[i];
			const pts = p.timeline || [];
			const div = el("div", { class: "timeline", id: "timeline-" + i });
			div.appendChild(el("h3", {}, procName(p) + ": peak " + fmtBytes(p.peak_bytes) +
				" in " + fmtInt(p.peak_blocks) + " blocks"));
			const s = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img" });
			let t0 = p.start_ms, t1 = p.end_ms;
			for (const [t] of pts) {
				t0 = Math.min(t0, t);
				t1 = Math.max(t1, t);
			}
			const span = t1 > t0 ? t1 - t0 : 1, vmax = Math.max(p.peak_bytes, 1);
			const x = t => L + (W - L - R) * (t - t0) / span;
			const y = v => T + (H - T - B) * (1 - v / vmax);
			s.appendChild(svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
			s.appendChild(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
			const label = (tx, ty, str, anchor) => {
				const e = svg("text", { class: "tick", x: tx, y: ty, "text-anchor": anchor });
				e.textContent = str;
				s.appendChild(e);
			};
			label(L - 4, T + 4, fmtBytes(p.peak_bytes), "end");
			label(L - 4, H - B, "0", "end");
			label(L, H - 6, t0.toFixed(1) + " ms", "start");
			label(W - R, H - 6, t1.toFixed(1) + " ms", "end");
			if (pts.length) {
				/* a step line: each point is its bucket's maximum */
				let d = "M" + x(pts[0][0]).toFixed(2) + "," + y(0).toFixed(2);
				for (const [t, v] of pts)
					d += "L" + x(t).toFixed(2) + "," + y(v).toFixed(2);
				/* what was live after the last event stays live until the process ends */
				d += "L" + x(t1).toFixed(2) + "," + y(pts[pts.length - 1][1]).toFixed(2);
				const area = d + "L" + x(t1).toFixed(2) + "," + y(0).toFixed(2) + "Z";
				s.appendChild(svg("path", { class: "area", d: area }));
				s.appendChild(svg("path", { class: "line", d: d }));
				const pk = pts.find(([, v]) => v === p.peak_bytes);
				if (pk) {
					const c = svg("circle", { class: "peak", cx: x(pk[0]), cy: y(pk[1]), r: 4 });
					const title = svg("title");
					title.textContent = "peak " + fmtInt(pk[1]) + " bytes at " + pk[0] + " ms";
					c.appendChild(title);
					s.appendChild(c);
					const right = x(pk[0]) > W * 0.7;
					const e = svg("text", { class: "peak-label", x: x(pk[0]) + (right ? -8 : 8), y: y(pk[1]) + 12,
						"text-anchor": right ? "end" : "start" });
					e.textContent = "peak " + fmtBytes(pk[1]) + " at " + pk[0].toFixed(1) + " ms";
					s.appendChild(e);
				}
			}
			div.appendChild(s);
			box.appendChild(div);
		});
	}

	/* ---------------------------------------------------------------- flame graph */

	/*
	 * Aggregates the stacks into a call tree (root first), merging frames by
	 * name.  Names are interned to integers first, and every edge of the tree
	 * lives in one Map keyed by parent index * names + name: no Map per node,
	 * which matters at 100k stacks of 20 frames (docs/reports.md).
	 */
	function buildTree(mode) {
		const m = MODES[mode];
		const ids = new Map(), names = [], files = [];
		const intern = (name, file) => {
			let id = ids.get(name);
			if (id === undefined) {
				id = names.length;
				ids.set(name, id);
				names.push(name);
				files.push(file);
			}
			return id;
		};
		const rootId = intern("all", null), noStack = intern("[no stack recorded]", null);
		const used = procs.map((p, pi) => !(m.peakOnly && pi !== peakIdx));
		const fids = procs.map((p, pi) => used[pi] ? (p.frames || []).map(f => intern(frameName(f),
			f.file ? f.file + (f.line ? ":" + f.line : "") : f.module)) : null);
		const pids = procs.map(p => intern(procName(p), p.exe));
		const N = names.length;
		const nodes = [], edges = new Map();
		const node = (id, parent) => {
			const n = { name: names[id], file: files[id], v: 0, c: 0, kids: [], parent: parent,
				depth: parent ? parent.depth + 1 : 0, index: nodes.length };
			nodes.push(n);
			return n;
		};
		const child = (n, id) => {
			const key = n.index * N + id;
			let k = edges.get(key);
			if (k === undefined) {
				k = node(id, n);
				edges.set(key, k);
			}
			return k;
		};
		const root = node(rootId, null);
		procs.forEach((p, pi) => {
			if (!used[pi])
				return;
			const fid = fids[pi];
			for (const s of p.stacks || []) {
				const v = s[m.bytes], c = s[m.count];
				if (!v && !c)
					continue;
				root.v += v;
				root.c += c;
				let n = child(root, pids[pi]);
				n.v += v;
				n.c += c;
				const fr = s[0];
				if (!fr.length) {
					n = child(n, noStack);
					n.v += v;
					n.c += c;
				}
				for (let k = fr.length - 1; k >= 0; k--) {
					n = child(n, fid[fr[k]]);
					n.v += v;
					n.c += c;
				}
			}
		});
		/* children, largest first */
		for (let i = 1; i < nodes.length; i++)
			nodes[i].parent.kids.push(nodes[i]);
		for (const n of nodes)
			if (n.kids.length > 1)
				n.kids.sort((a, b) => b.v - a.v || (a.name < b.name ? -1 : 1));
		return root;
	}

	/* a stable warm colour per name, as flame graphs do */
	function colour(name) {
		let h = 0;
		for (let i = 0; i < name.length; i++)
			h = (h * 31 + name.charCodeAt(i)) >>> 0;
		return "hsl(" + (10 + h % 40) + "," + (60 + (h >> 8) % 25) + "%," + (58 + (h >> 16) % 14) + "%)";
	}

	const flame = {
		mode: "peak",
		trees: {},
		root: null,
		zoom: null,
		query: "",
		rects: [],
	};

	function tree(mode) {
		if (!flame.trees[mode]) {
			const t0 = performance.now();
			flame.trees[mode] = buildTree(mode);
			timing["build_" + mode] = performance.now() - t0;
		}
		return flame.trees[mode];
	}

	function matches(n) {
		return flame.query && n.name.toLowerCase().includes(flame.query);
	}

	function renderFlame() {
		const t0 = performance.now();
		const box = document.getElementById("flame");
		const root = flame.root;
		box.textContent = "";
		flame.rects = [];
		if (!root.v) {
			box.appendChild(el("div", { class: "empty" }, "nothing " + MODES[flame.mode].label));
			updateStatus();
			return;
		}
		const W = Math.max(box.clientWidth, 300);
		const z = flame.zoom || root;
		const scale = W / z.v;
		const rects = flame.rects;
		const anc = [];
		for (let a = z.parent; a; a = a.parent)
			anc.unshift(a);
		anc.forEach((a, i) => rects.push({ node: a, x: 0, w: W, row: i, ancestor: true }));
		const base = anc.length;
		/* depth-first, skipping what is too narrow to see (and its subtree) */
		const todo = [[z, 0, 0]];
		let maxRow = base;
		while (todo.length) {
			const [n, x, d] = todo.pop();
			const w = n.v * scale;
			if (w < MIN_W)
				continue;
			rects.push({ node: n, x: x, w: w, row: base + d });
			maxRow = Math.max(maxRow, base + d);
			let cx = x;
			for (const k of n.kids) {
				todo.push([k, cx, d + 1]);
				cx += k.v * scale;
			}
		}
		const H = (maxRow + 1) * ROW_H;
		const s = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H });
		const frag = document.createDocumentFragment();
		rects.forEach((r, i) => {
			const cls = "frame" + (r.ancestor ? " ancestor" : "") + (matches(r.node) ? " match" : "");
			frag.appendChild(svg("rect", { class: cls, x: r.x.toFixed(2), y: r.row * ROW_H,
				width: Math.max(r.w - 0.5, 0.5).toFixed(2), height: ROW_H - 1,
				fill: colour(r.node.name), "data-i": i }));
			if (r.w >= LABEL_W) {
				const maxChars = Math.floor((r.w - 6) / 6.7);
				const name = r.node.name;
				const t = svg("text", { x: (r.x + 3).toFixed(2), y: r.row * ROW_H + 13 });
				t.textContent = name.length > maxChars ? name.slice(0, Math.max(maxChars - 1, 1)) + "…" : name;
				frag.appendChild(t);
			}
		});
		s.appendChild(frag);
		box.appendChild(s);
		timing["render_" + flame.mode] = performance.now() - t0;
		updateStatus();
	}

	/* the share of the root the search matches: top-most matching nodes only */
	function matchedValue(n) {
		if (matches(n))
			return n.v;
		let sum = 0;
		for (const k of n.kids)
			sum += matchedValue(k);
		return sum;
	}

	function updateStatus() {
		const st = document.getElementById("flame-status");
		const root = flame.root;
		let txt = MODES[flame.mode].label + ": " + fmtBytes(root.v) + " in " + fmtInt(root.c) + " " +
			MODES[flame.mode].unit;
		if (flame.zoom && flame.zoom !== root)
			txt += " · zoomed on " + flame.zoom.name;
		if (flame.query) {
			const mv = matchedValue(root);
			txt += " · \"" + flame.query + "\" matches " + fmtBytes(mv) + " (" + pct(mv, root.v) + ")";
		}
		st.textContent = txt;
	}

	function showTooltip(ev, r) {
		const tip = document.getElementById("tooltip");
		const n = r.node, m = MODES[flame.mode];
		const lines = [n.name];
		if (n.file)
			lines.push(n.file);
		lines.push(fmtBytes(n.v) + " (" + fmtInt(n.v) + " bytes), " + fmtInt(n.c) + " " + m.unit);
		lines.push(pct(n.v, flame.root.v) + " of " + m.label);
		tip.textContent = lines.join("\n");
		tip.style.display = "block";
		const x = Math.min(ev.clientX + 12, window.innerWidth - tip.offsetWidth - 8);
		const y = ev.clientY + 16 + tip.offsetHeight > window.innerHeight ? ev.clientY - tip.offsetHeight - 8 : ev.clientY + 16;
		tip.style.left = Math.max(x, 0) + "px";
		tip.style.top = Math.max(y, 0) + "px";
	}

	function hideTooltip() {
		document.getElementById("tooltip").style.display = "none";
	}

	function setMode(mode) {
		flame.mode = mode;
		flame.root = tree(mode);
		flame.zoom = null;
		renderFlame();
	}

	function initFlame() {
		const box = document.getElementById("flame");
		const ctl = document.getElementById("flame-modes");
		for (const mode of Object.keys(MODES)) {
			const lab = el("label");
			const r = el("input", { type: "radio", name: "flame-mode", value: mode });
			r.checked = mode === flame.mode;
			r.addEventListener("change", () => setMode(mode));
			lab.appendChild(r);
			lab.appendChild(document.createTextNode(" " + MODES[mode].label));
			ctl.appendChild(lab);
		}
		box.addEventListener("mousemove", ev => {
			const i = ev.target.getAttribute && ev.target.getAttribute("data-i");
			if (i === null || i === undefined)
				return hideTooltip();
			showTooltip(ev, flame.rects[+i]);
		});
		box.addEventListener("mouseleave", hideTooltip);
		box.addEventListener("click", ev => {
			const i = ev.target.getAttribute && ev.target.getAttribute("data-i");
			if (i === null || i === undefined)
				return;
			const n = flame.rects[+i].node;
			flame.zoom = n === flame.root ? null : n;
			hideTooltip();
			renderFlame();
		});
		document.getElementById("flame-reset").addEventListener("click", () => {
			flame.zoom = null;
			renderFlame();
		});
		const search = document.getElementById("flame-search");
		search.addEventListener("input", () => {
			flame.query = search.value.trim().toLowerCase();
			for (const r of box.querySelectorAll("rect.frame"))
				r.classList.toggle("match", matches(flame.rects[+r.getAttribute("data-i")].node));
			updateStatus();
		});
		let pending = 0;
		window.addEventListener("resize", () => {
			clearTimeout(pending);
			pending = setTimeout(renderFlame, 100);
		});
		/* start where the interest is: the peak, else the leaks, else everything */
		const any = mode => procs.some(p => (p.stacks || []).some(s => s[MODES[mode].bytes] || s[MODES[mode].count]));
		const first = ["peak", "leaks", "total"].find(any) || "peak";
		ctl.querySelector("input[value=" + first + "]").checked = true;
		setMode(first);
	}

	/* ---------------------------------------------------------------- call sites */

	/* per site (baseline naming): peak bytes/blocks (the peaking process), leaks, totals */
	function siteTable() {
		const sites = new Map();
		procs.forEach((p, pi) => {
			const frames = p.frames || [];
			/* the runtime's blocks (leak stacks marked "runtime"): never a leak site, as in baselines */
			const addrs = fs => fs.map(f => f.addr + "@" + (f.function || "")).join(" ");
			const runtime = new Set((p.leak_stacks || []).filter(x => x.runtime).map(x => addrs(x.frames || [])));
			for (const s of p.stacks || []) {
				const fs = s[0].map(i => frames[i]);
				const name = siteName(fs);
				const owned = runtime.size > 0 && runtime.has(addrs(fs));
				let e = sites.get(name);
				if (!e) {
					e = { site: name, peak_bytes: 0, peak_blocks: 0, leaked_bytes: 0, leaked_blocks: 0, total_bytes: 0, allocs: 0 };
					sites.set(name, e);
				}
				if (pi === peakIdx) {
					e.peak_bytes += s[COL.peak_bytes];
					e.peak_blocks += s[COL.peak_blocks];
				}
				if (!owned) {
					e.leaked_bytes += s[COL.leaked_bytes];
					e.leaked_blocks += s[COL.leaked_blocks];
				}
				e.total_bytes += s[COL.total_bytes];
				e.allocs += s[COL.allocs];
			}
		});
		return sites;
	}

	/* a table whose column headers sort it; cols: [key, label, format] */
	function sortableTable(box, id, cols, rows, sortKey, rowClass) {
		const table = el("table", { id: id });
		const thead = el("thead"), tbody = el("tbody");
		const hr = el("tr");
		let key = sortKey, asc = false;
		function fill() {
			rows.sort((a, b) => {
				const x = a[key], y = b[key];
				const c = typeof x === "string" ? x.localeCompare(y) : x - y;
				return asc ? c : -c;
			});
			tbody.textContent = "";
			for (const r of rows.slice(0, TABLE_ROWS)) {
				const tr = el("tr", rowClass ? { class: rowClass(r) } : {});
				for (const [k, , fmt] of cols)
					tr.appendChild(el("td", { class: k === "site" ? "site" : k }, fmt ? fmt(r[k], r) : String(r[k])));
				tbody.appendChild(tr);
			}
			for (const th of hr.children) {
				th.classList.toggle("sorted", th.dataset.key === key);
				th.classList.toggle("asc", th.dataset.key === key && asc);
			}
		}
		for (const [k, label] of cols) {
			const th = el("th", { class: k === "site" ? "site" : "", "data-key": k }, label);
			th.addEventListener("click", () => {
				asc = key === k ? !asc : k === "site";
				key = k;
				fill();
			});
			hr.appendChild(th);
		}
		thead.appendChild(hr);
		table.appendChild(thead);
		table.appendChild(tbody);
		box.appendChild(table);
		if (rows.length > TABLE_ROWS)
			box.appendChild(el("p", { class: "note" }, "showing " + TABLE_ROWS + " of " + rows.length + " sites"));
		fill();
	}

	function renderSites(sites) {
		const box = document.getElementById("sites");
		const rows = Array.from(sites.values());
		const b = v => fmtBytes(v), n = v => fmtInt(v);
		sortableTable(box, "sites-table", [
			["site", "call site (innermost frames, ' < ' = called from)"],
			["peak_bytes", "at peak", b], ["peak_blocks", "blocks", n],
			["leaked_bytes", "leaked", b], ["leaked_blocks", "blocks", n],
			["total_bytes", "allocated", b], ["allocs", "allocs", n],
		], rows, rows.some(r => r.peak_bytes) ? "peak_bytes" : "total_bytes");
	}

	/* ---------------------------------------------------------------- baseline diff */

	function renderDiff(sites) {
		const sec = document.getElementById("diff-section");
		if (!baseline)
			return;
		sec.hidden = false;
		const box = document.getElementById("diff");
		const rows = [];
		for (const [metric, list, key] of [["peak_bytes", "peak_sites", "peak_bytes"], ["leaked_bytes", "leak_sites", "leaked_bytes"]]) {
			const seen = new Set();
			for (const b of baseline[list] || []) {
				const cur = sites.get(b.site);
				rows.push({ site: b.site, metric: metric, baseline: b.bytes, current: cur ? cur[key] : 0 });
				seen.add(b.site);
			}
			for (const [name, e] of sites)
				if (!seen.has(name) && e[key])
					rows.push({ site: name, metric: metric, baseline: null, current: e[key] });
		}
		for (const r of rows)
			r.delta = r.current - (r.baseline || 0);
		const changed = rows.filter(r => r.delta !== 0);
		const d = v => (v > 0 ? "+" : v < 0 ? "−" : "±") + fmtBytes(Math.abs(v));
		box.appendChild(el("p", { class: "note" },
			"Baseline " + (baseline.commit ? "measured at " + String(baseline.commit).slice(0, 12) : "(no commit)") +
			(baseline.reason ? ", accepted: " + baseline.reason : "") +
			". A baseline keeps its top sites only: a site it lacks counts from 0. " +
			(rows.length - changed.length) + " unchanged sites hidden."));
		sortableTable(box, "diff-table", [
			["site", "call site"], ["metric", "metric"],
			["baseline", "baseline", v => v === null ? "—" : fmtBytes(v)],
			["current", "current", v => fmtBytes(v)],
			["delta", "change", d],
		], changed, "delta", r => r.delta > 0 ? "grew" : r.delta < 0 ? "shrank" : "");
		/* each change's cell tinted by its size against the largest change */
		const most = changed.reduce((m, r) => Math.max(m, Math.abs(r.delta)), 0);
		const tint = () => {
			for (const tr of box.querySelectorAll("#diff-table tbody tr")) {
				const r = changed.find(c => c.site === tr.firstChild.textContent &&
					c.metric === tr.children[1].textContent);
				const a = most ? (0.08 + 0.32 * Math.abs(r.delta) / most).toFixed(2) : 0;
				tr.lastChild.style.background = r.delta > 0 ? "rgba(198,40,40," + a + ")" : "rgba(46,125,50," + a + ")";
			}
		};
		tint();
		box.querySelector("#diff-table thead").addEventListener("click", tint);
	}

	/* ---------------------------------------------------------------- start */

	renderHeader();
	renderTimelines();
	initFlame();
	const sites = siteTable();
	renderSites(sites);
	renderDiff(sites);
	timing.total = performance.now() - timing.start;
	window.memgateReport = { timing: timing, flame: flame, modes: MODES };
})();
