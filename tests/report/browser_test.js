// browser_test.js - the report page in headless Chromium, from file://, no network
//
// usage: node browser_test.js NODE_MODULES CHROMIUM DIR
//
// DIR holds plain.html, diff.html and xss.html of tests/report/fixtures/
// report_stacks.c (browser_test.sh).  Any request that is not file:// is
// aborted and fails the test, as does any console error.  Writes
// DIR/report.png (and DIR/diff.png) for a look.  DIR/dhat.json, the DHAT
// export, goes through valgrind's dh_view.html when it is installed.
"use strict";
const fs = require("fs");
const path = require("path");
const [modules, chromium, dir] = process.argv.slice(2);
const { chromium: launcher } = require(path.join(modules, "playwright-core"));

let failed = 0;
function check(cond, what) {
	if (!cond) {
		console.error("FAIL: " + what);
		failed = 1;
	}
}

async function open(browser, file) {
	const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
	const problems = [];
	page.on("console", m => {
		if (m.type() === "error" || m.type() === "warning")
			problems.push(`console ${m.type()}: ${m.text()}`);
	});
	page.on("pageerror", e => problems.push("page error: " + e.message));
	await page.route("**/*", route => {
		const url = route.request().url();
		if (url.startsWith("file:"))
			return route.continue();
		problems.push("network request: " + url);
		return route.abort();
	});
	await page.goto("file://" + path.join(dir, file));
	await page.waitForFunction(() => window.memgateReport !== undefined);
	return { page, problems };
}

/* the index of the drawn rectangle of the frame named `name` (the n-th one) */
function rectOf(page, name, n = 0) {
	return page.evaluate(([name, n]) => {
		const rs = window.memgateReport.flame.rects;
		const hits = rs.map((r, i) => [r, i]).filter(([r]) => r.node.name === name);
		return hits.length > n ? hits[n][1] : -1;
	}, [name, n]);
}

const countRects = page => page.locator("#flame rect.frame").count();

async function plain(browser) {
	const { page, problems } = await open(browser, "plain.html");
	check(await page.title() === "memgate: stacks", "title: " + await page.title());

	// the timeline: one per process, the peak marked
	check(await page.locator("#timelines .timeline").count() === 1, "one timeline");
	check(await page.locator("#timeline-0 path.line").count() === 1, "timeline line drawn");
	check(await page.locator("#timeline-0 circle.peak").count() === 1, "peak marked");
	check((await page.locator("#timeline-0 .peak-label").textContent()).startsWith("peak 3.4 KiB"),
		"peak label");

	// live at the peak: all, the process, _start, __libc_start_main, __libc_start_call_main,
	// main, mid_b, leaf, mid_a, leaf
	check(await page.locator("input[value=peak]").isChecked(), "starts at the peak");
	check(await countRects(page) === 10, "peak flame graph has 10 boxes, got " + await countRects(page));
	check((await page.locator("#flame-status").textContent()).includes("3.4 KiB in 3 blocks"), "status");

	// hover: mid_b held 2000 of the 3500 bytes live at the peak
	let i = await rectOf(page, "mid_b");
	await page.hover(`#flame rect[data-i="${i}"]`);
	const tip = await page.locator("#tooltip").textContent();
	check(await page.locator("#tooltip").isVisible(), "tooltip visible");
	check(tip.startsWith("mid_b\n") && tip.includes("(2,000 bytes), 1 blocks") && tip.includes("57.1% of live at the peak"),
		"tooltip: " + JSON.stringify(tip));

	// click zooms: mid_a's box spans the width, its ancestors stay above, mid_b is gone
	i = await rectOf(page, "mid_a");
	await page.click(`#flame rect[data-i="${i}"]`);
	check(await countRects(page) === 8, "zoomed: 6 ancestors + mid_a + leaf, got " + await countRects(page));
	const w = await page.evaluate(() => {
		const r = window.memgateReport.flame.rects.find(r => r.node.name === "mid_a");
		return r.w / document.querySelector("#flame svg").getAttribute("width");
	});
	check(Math.abs(w - 1) < 0.01, "mid_a spans the width: " + w);
	check(await rectOf(page, "mid_b") === -1, "mid_b is not drawn when zoomed on mid_a");
	check((await page.locator("#flame-status").textContent()).includes("zoomed on mid_a"), "zoom status");
	i = await rectOf(page, "all");
	await page.click(`#flame rect[data-i="${i}"]`);
	check(await countRects(page) === 10, "zoomed out");

	// search highlights both leaf boxes; together they hold everything
	await page.fill("#flame-search", "LEAF");
	check(await page.locator("#flame rect.frame.match").count() === 2, "search highlights 2 boxes");
	check((await page.locator("#flame-status").textContent()).includes("matches 3.4 KiB (100.0%)"), "search status");
	await page.fill("#flame-search", "");
	check(await page.locator("#flame rect.frame.match").count() === 0, "search cleared");

	// the other graphs: all allocations adds main's own leaf (3 x 100); leaks only mid_b's
	await page.check("input[value=total]");
	check(await countRects(page) === 11, "total flame graph has 11 boxes, got " + await countRects(page));
	i = await rectOf(page, "leaf", 0);
	await page.hover(`#flame rect[data-i="${i}"]`);
	check((await page.locator("#tooltip").textContent()).includes("of all allocations"), "tooltip in total mode");
	await page.check("input[value=leaks]");
	check(await countRects(page) === 8, "leak flame graph has 8 boxes, got " + await countRects(page));
	await page.check("input[value=peak]");

	// the call-site table: 4 sites, sortable
	const rows = page.locator("#sites-table tbody tr");
	check(await rows.count() === 4, "4 call sites");
	check((await rows.first().textContent()).includes("mid_b"), "sorted by peak: mid_b first");
	await page.click("#sites-table th[data-key=allocs]");
	check((await rows.first().locator("td").nth(6).textContent()) === "3", "sorted by allocs: 3 first");
	await page.click("#sites-table th[data-key=allocs]");
	check((await rows.first().locator("td").nth(6).textContent()) === "1", "sorted by allocs, ascending");
	check(await page.locator("#diff-section").isHidden(), "no diff without a baseline");

	await page.mouse.move(0, 0);
	await page.screenshot({ path: path.join(dir, "report.png"), fullPage: true });
	const t = await page.evaluate(() => window.memgateReport.timing);
	console.log("timing (ms): " + JSON.stringify(t));
	check(problems.length === 0, "plain.html: " + problems.join("; "));
	await page.close();
}

async function diff(browser) {
	const { page, problems } = await open(browser, "diff.html");
	check(await page.locator("#diff-section").isVisible(), "diff shown");
	const rows = page.locator("#diff-table tbody tr");
	check(await rows.count() === 2, "2 changed sites, got " + await rows.count());
	const grew = page.locator("#diff-table tr.grew");
	check(await grew.count() === 1 && (await grew.textContent()).includes("mid_b") &&
		(await grew.locator("td.delta").textContent()) === "+1.5 KiB", "mid_b grew by 1500 B");
	const shrank = page.locator("#diff-table tr.shrank");
	check(await shrank.count() === 1 && (await shrank.textContent()).includes("gone (old.c:1)") &&
		(await shrank.locator("td.delta").textContent()) === "−700 B", "the gone site shrank by 700 B");
	check((await page.locator(".figure[data-key=peak_bytes] .delta").textContent()) === "±0 B vs baseline",
		"figure delta against the baseline");
	await page.screenshot({ path: path.join(dir, "diff.png"), fullPage: true });
	check(problems.length === 0, "diff.html: " + problems.join("; "));
	await page.close();
}

async function xss(browser) {
	const { page, problems } = await open(browser, "xss.html");
	const evil = "</script><img src=x onerror=\"window.__xss=1\">&<>\"'mid_b";
	check(await page.evaluate(() => window.__xss === undefined), "no script ran from the data");
	check(await page.locator("img").count() === 0, "no element made from the data");
	check(await page.locator("#test-name").textContent() === "<img src=x onerror=\"window.__xss=2\">",
		"test name shown as text");
	const i = await rectOf(page, evil);
	check(i >= 0, "the hostile frame is in the flame graph");
	await page.hover(`#flame rect[data-i="${i}"]`);
	check((await page.locator("#tooltip").textContent()).startsWith(evil + "\n"), "hostile name shown as text");
	check((await page.locator("#sites-table").textContent()).includes(evil), "and in the call sites");
	check(problems.length === 0, "xss.html: " + problems.join("; "));
	await page.close();
}

/* valgrind's own viewer reads the DHAT export (when valgrind is installed) */
async function dhView(browser) {
	const viewer = process.env.MEMGATE_TEST_DH_VIEW || "/usr/libexec/valgrind/dh_view.html";
	if (!fs.existsSync(viewer)) {
		console.log("note: no " + viewer + ": the DHAT export is not loaded into dh_view");
		return;
	}
	const page = await browser.newPage();
	const problems = [];
	page.on("pageerror", e => problems.push("page error: " + e.message));
	await page.route("**/*", route => route.request().url().startsWith("file:") ? route.continue() :
		(problems.push("network request: " + route.request().url()), route.abort()));
	await page.goto("file://" + viewer);
	await page.setInputFiles("input[type=file]", path.join(dir, "dhat.json"));
	await page.waitForFunction(() => document.body.innerText.includes("Times {") ||
		document.querySelector(".error"));
	const text = await page.locator("body").innerText();
	check(await page.locator(".error").count() === 0, "dh_view: " + text.slice(-300));
	check(/Total:\s+3,800 bytes \(100%.*in 6 blocks/.test(text), "dh_view: total");
	check(/At t-gmax: 3,500 bytes \(100%\) in 3 blocks/.test(text), "dh_view: at t-gmax");
	check(/At t-end:\s+2,000 bytes \(100%\) in 1 blocks/.test(text), "dh_view: at t-end");
	check(problems.length === 0, "dh_view: " + problems.join("; "));
	await page.close();
}

(async () => {
	const browser = await launcher.launch({
		executablePath: chromium,
		args: ["--headless", "--no-sandbox", "--disable-gpu"],
	});
	try {
		await plain(browser);
		await diff(browser);
		await xss(browser);
		await dhView(browser);
	} catch (e) {
		console.error("FAIL: " + (e.stack || e));
		failed = 1;
	} finally {
		await browser.close();
	}
	process.exit(failed);
})();
