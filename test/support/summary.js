// Prints jest's result as one plain closing line: "N passed, N failed[, N skipped]", from the
// report of this run only (the Makefile removes the previous one first). No report, an
// interrupted run, a suite that failed to load or a testbed the run left unclean says so, and the
// exit status is then non-zero.
const { existsSync, readFileSync } = require("node:fs");
const { dirname, join } = require("node:path");
const [file, jestStatus] = [process.argv[2], Number(process.argv[3] ?? 0)];
if (!existsSync(file)) {
  console.log(
    `no test report: jest stopped before running the tests (exit status ${jestStatus}); 0 passed, run failed`,
  );
  process.exit(jestStatus || 1);
}
const r = JSON.parse(readFileSync(file, "utf8"));
// What the global teardown found left on the testbed after the run (written only then).
const leftBehindFile = join(dirname(file), "left-behind.txt");
const leftBehind = existsSync(leftBehindFile);
const skipped = r.numPendingTests + r.numTodoTests;
// A suite that failed to load ran none of its tests: it is named, and counts as one failure.
const unloaded = r.testResults.filter((s) => s.status === "failed" && s.assertionResults.length === 0);
for (const suite of unloaded)
  console.log(`could not run ${suite.name}: ${(suite.message || "").split("\n").find(Boolean) ?? ""}`);
const failed = r.numFailedTests + unloaded.length;
const notes = [
  skipped ? `${skipped} skipped` : "",
  r.wasInterrupted ? "interrupted" : "",
  !r.success && failed === 0 ? "jest reported failure" : "",
  leftBehind ? `the run left the testbed unclean (${leftBehindFile})` : "",
].filter(Boolean);
console.log(`${r.numPassedTests} passed, ${failed} failed${notes.length ? `, ${notes.join(", ")}` : ""}`);
process.exit(r.success && !r.wasInterrupted && !leftBehind ? jestStatus : jestStatus || 1);
