// measure_page.js - load a report page in headless Chromium and print how long things take
//
// usage: node measure_page.js NODE_MODULES CHROMIUM PAGE.html
//
// Prints one JSON object: navigation to load event, the page's own timings
// (window.memgateReport.timing: JSON parse, tree build and render per flame
// graph mode), the number of boxes drawn, and the time of a mode switch, a
// zoom and a search.  Used by scale.sh for docs/reports.md.
"use strict";
const path = require("path");
const [modules, chromium, file] = process.argv.slice(2);
const { chromium: launcher } = require(path.join(modules, "playwright-core"));

(async () => {
	const browser = await launcher.launch({ executablePath: chromium, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
	const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
	const errors = [];
	page.on("pageerror", e => errors.push(e.message));
	page.on("console", m => m.type() === "error" && errors.push(m.text()));
	await page.route("**/*", r => r.request().url().startsWith("file:") ? r.continue() : r.abort());
	const t0 = Date.now();
	await page.goto("file://" + path.resolve(file), { waitUntil: "load" });
	await page.waitForFunction(() => window.memgateReport !== undefined);
	const loaded = Date.now() - t0;
	const out = { load_ms: loaded, timing: await page.evaluate(() => window.memgateReport.timing) };
	out.boxes = await page.locator("#flame rect.frame").count();
	const timed = async (what, fn) => {
		const s = Date.now();
		await fn();
		await page.evaluate(() => new Promise(r => requestAnimationFrame(() => r())));
		out[what] = Date.now() - s;
	};
	await timed("switch_to_total_ms", () => page.check("input[value=total]"));
	out.boxes_total = await page.locator("#flame rect.frame").count();
	await timed("zoom_ms", async () => {
		const i = await page.evaluate(() => window.memgateReport.flame.rects.findIndex(r => r.node.depth === 4));
		await page.click(`#flame rect[data-i="${i}"]`);
	});
	await timed("search_ms", () => page.fill("#flame-search", "branch2"));
	out.errors = errors;
	await page.screenshot({ path: file.replace(/\.html$/, ".png") });
	console.log(JSON.stringify(out, null, 1));
	await browser.close();
})();
