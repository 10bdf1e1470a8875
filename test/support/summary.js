// Prints jest's result as one plain closing line: "N passed, N failed[, N skipped]".
const { existsSync, readFileSync } = require("node:fs");
const file = process.argv[2];
if (!existsSync(file)) process.exit(0);
const r = JSON.parse(readFileSync(file, "utf8"));
const skipped = r.numPendingTests + r.numTodoTests;
console.log(
  `${r.numPassedTests} passed, ${r.numFailedTests + r.numRuntimeErrorTestSuites} failed${skipped ? `, ${skipped} skipped` : ""}`,
);
