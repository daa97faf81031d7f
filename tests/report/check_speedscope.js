// check_speedscope.js - a speedscope export validated against speedscope's own schema
//
// usage: node check_speedscope.js NODE_MODULES SPEEDSCOPE.json PROFILE.json
//
// ajv checks the file against node_modules/speedscope/dist/release/
// file-format-schema.json; then each sampled profile's weights must add up
// to its figure in the profile (the peak ones: the process that peaked).
"use strict";
const fs = require("fs");
const path = require("path");
const [modules, file, profileFile] = process.argv.slice(2);
const Ajv = require(path.join(modules, "ajv"));
const schema = JSON.parse(fs.readFileSync(path.join(modules, "speedscope/dist/release/file-format-schema.json"), "utf8"));
const doc = JSON.parse(fs.readFileSync(file, "utf8"));
const profile = JSON.parse(fs.readFileSync(profileFile, "utf8"));
const weights = ["total_bytes", "allocs", "peak_bytes", "peak_blocks", "leaked_bytes", "leaked_blocks"];
let failed = 0;
function fail(msg) {
	console.error("FAIL: " + msg);
	failed = 1;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
if (!validate(doc))
	fail("speedscope schema: " + JSON.stringify(validate.errors.slice(0, 5)));
if (doc.profiles.length !== weights.length)
	fail(`${doc.profiles.length} profiles, want ${weights.length}`);
doc.profiles.forEach((p, i) => {
	const w = weights[i];
	const sum = p.weights.reduce((a, b) => a + b, 0);
	if (!p.name.endsWith(": " + w))
		fail(`profile ${i} is '${p.name}', want weight ${w}`);
	if (sum !== profile.summary[w] || p.endValue !== sum)
		fail(`${w}: weights sum to ${sum} (endValue ${p.endValue}), profile says ${profile.summary[w]}`);
	if (p.samples.length !== p.weights.length)
		fail(`${w}: ${p.samples.length} samples for ${p.weights.length} weights`);
	for (const s of p.samples)
		for (const f of s)
			if (!(f >= 0 && f < doc.shared.frames.length))
				fail(`${w}: frame ${f} out of range`);
});
process.exit(failed);
