#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Keeps the "## Inputs" / "## Outputs" tables of a Terraform module's README in step with its .tf files.
//
// usage: node readme_tables.mjs [--write] MODULE_DIR...
//
// Every README.md needs an "## Inputs" and an "## Outputs" section, each holding one markdown
// table. The rows come from the declarations: name, description (HCL escapes undone), type and
// default (runs of whitespace turned into one space, otherwise as written), required (when there
// is no default). Inputs follow the order of variables.tf, outputs that of outputs.tf. Without
// --write every difference is printed and the exit status is 1 if there is any; with --write the
// two tables are replaced. Descriptions must be plain `description = "..."` strings.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";

// Whitespace as Python's str.isspace() sees it (JavaScript's \s differs by a few code points).
const WS = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const LINE_START = "(?<![^\\n])"; // start of the text or just after "\n", and nowhere else
const edges = new RegExp(`^${WS}+|${WS}+$`, "g");
const runs = new RegExp(`${WS}+`, "g");

const strip = (s) => s.replace(edges, "");
const squeeze = (expr) => {
	if (typeof expr !== "string") throw new TypeError("expected an expression, found none");
	return strip(expr.replace(runs, " "));
};

// Code-point order, as Python compares strings.
const byCodePoint = (a, b) => {
	const x = [...a];
	const y = [...b];
	for (let k = 0; k < Math.min(x.length, y.length); k++) {
		const d = x[k].codePointAt(0) - y[k].codePointAt(0);
		if (d) return d;
	}
	return x.length - y.length;
};

// A directory argument joined with a file name the way pathlib spells it: empty and "."
// components dropped, ".." kept, a leading "//" kept and any other run of leading slashes made one.
function within(dir, file) {
	const root = /^\/\/(?!\/)/.test(dir) ? "//" : dir.startsWith("/") ? "/" : "";
	const parts = dir.split("/").filter((p) => p !== "" && p !== ".");
	return root + [...parts, file].join("/");
}

// Text of a file: strict UTF-8, byte order mark kept, "\r\n" and "\r" read as "\n".
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const readText = (file) => utf8.decode(readFileSync(file)).replace(/\r\n?/g, "\n");

// [name, body] of each `kind "name" { ... }` block that starts a line.
function blocks(text, kind) {
	const head = new RegExp(`${LINE_START}${kind}${WS}+"([^"]+)"${WS}*\\{`, "g");
	const found = [];
	for (const m of text.matchAll(head)) {
		const open = m.index + m[0].length;
		let depth = 1;
		let at = open;
		let inString = false;
		while (depth > 0) {
			if (at < 0 || at >= text.length) throw new RangeError(`unterminated ${kind} "${m[1]}" block`);
			const c = text[at];
			if (inString) {
				if (c === "\\") at++;
				else if (c === '"') inString = false;
			} else if (c === '"') {
				inString = true;
			} else if (c === "#") {
				const eol = text.indexOf("\n", at);
				if (eol < 0) throw new RangeError(`comment without a line end in ${kind} "${m[1]}"`);
				at = eol - 1;
			} else if ("{[(".includes(c)) {
				depth++;
			} else if ("}])".includes(c)) {
				depth--;
			}
			at++;
		}
		found.push([m[1], text.slice(open, at - 1)]);
	}
	return found;
}

// The expression of a top-level `name = ...` attribute of a block body, its lines trimmed and
// joined by single spaces; null when the body has no such attribute.
function attribute(body, name) {
	const assign = new RegExp(`^${WS}*${name}${WS}*=${WS}*([^\\n]*)$`);
	let depth = 0;
	let inString = false;
	let pieces = null;
	for (let line of body.split("\n")) {
		if (pieces === null) {
			const m = depth === 0 ? assign.exec(line) : null;
			if (m) {
				pieces = [m[1]];
				line = m[1];
			}
		} else {
			pieces.push(line);
		}
		for (let j = 0; j < line.length; j++) {
			const c = line[j];
			if (inString) {
				if (c === '"' && line.at(j - 1) !== "\\") inString = false;
			} else if (c === '"') {
				inString = true;
			} else if ("{[(".includes(c)) {
				depth++;
			} else if ("}])".includes(c)) {
				depth--;
			}
		}
		if (pieces !== null && depth === 0) return pieces.map(strip).join(" ");
	}
	return null;
}

// The text of a plain HCL string literal.
function unquote(hcl) {
	if (typeof hcl !== "string") throw new TypeError("no description attribute");
	const s = strip(hcl);
	if (!(s.startsWith('"') && s.endsWith('"'))) throw new Error(`description is not a plain string: ${s}`);
	return s.slice(1, -1).split('\\"').join('"').split("\\\\").join("\\").split("$${").join("${");
}

function rows(dir) {
	const files = readdirSync(within(dir, "."))
		.filter((f) => f.endsWith(".tf"))
		.map((f) => [f, readText(within(dir, f))])
		.sort(([a], [b]) => byCodePoint(a, b));
	const inputs = [];
	const outputs = [];
	for (const [, text] of files) {
		for (const [name, body] of blocks(text, "variable")) {
			const dflt = attribute(body, "default");
			const description = unquote(attribute(body, "description"));
			const type = squeeze(attribute(body, "type"));
			const shown = dflt === null ? "n/a" : `\`${squeeze(dflt)}\``;
			inputs.push(`| \`${name}\` | ${description} | \`${type}\` | ${shown} | ${dflt === null ? "yes" : "no"} |`);
		}
		for (const [name, body] of blocks(text, "output")) {
			outputs.push(`| \`${name}\` | ${unquote(attribute(body, "description"))} |`);
		}
	}
	return [inputs, outputs];
}

// Names in the order the file meant for them (variables.tf, outputs.tf) declares them.
function declared(dir, kind) {
	const file = kind === "variable" ? "variables.tf" : "outputs.tf";
	return blocks(readText(within(dir, file)), kind).map(([name]) => name);
}

// Rows sorted (stably) by where their name stands in `names`; a name missing from it is an error.
function inOrder(list, names) {
	const keyed = list.map((row) => {
		const key = names.indexOf(row.split("`")[1]);
		if (key < 0) throw new Error(`${row.split("`")[1]} is not declared in the expected file`);
		return [key, row];
	});
	return keyed.sort((a, b) => a[0] - b[0]).map(([, row]) => row);
}

function check(args) {
	const write = args.includes("--write");
	let bad = 0;
	for (const dir of args.filter((a) => a !== "--write")) {
		const readme = within(dir, "README.md");
		let text = readText(readme);
		const [inputs, outputs] = rows(dir);
		const inputNames = declared(dir, "variable");
		const outputNames = declared(dir, "output");
		const want = [
			["Inputs", ["| name | description | type | default | required |", "| --- | --- | --- | --- | --- |", ...inOrder(inputs, inputNames)]],
			["Outputs", ["| name | description |", "| --- | --- |", ...inOrder(outputs, outputNames)]],
		];
		for (const [section, lines] of want) {
			const wanted = lines.join("\n");
			const m = new RegExp(`${LINE_START}## ${section}\\n\\n((?:\\|[^\\n]*\\n?)+)`, "d").exec(text);
			if (!m) {
				console.log(`${readme}: no "## ${section}" section with a table`);
				bad++;
				continue;
			}
			const have = m[1].replace(/\n+$/, "");
			if (have === wanted) continue;
			if (write) {
				const [from, to] = m.indices[1];
				text = text.slice(0, from) + wanted + "\n" + text.slice(to);
				continue;
			}
			bad++;
			const got = have.split("\n");
			const exp = wanted.split("\n");
			const shuffled = JSON.stringify([...got].sort()) === JSON.stringify([...exp].sort());
			console.log(`${readme}: the ${section} table differs from the .tf files${shuffled ? " (same rows, not in declaration order)" : ""}:`);
			for (const line of got) if (!exp.includes(line)) console.log(`  README has: ${line}`);
			for (const line of exp) if (!got.includes(line)) console.log(`  .tf says:   ${line}`);
		}
		if (write) writeFileSync(readme, text, "utf8");
	}
	return bad ? 1 : 0;
}

try {
	process.exitCode = check(process.argv.slice(2));
} catch (err) {
	console.error(`readme_tables: ${err.message}`);
	process.exitCode = 1;
}
