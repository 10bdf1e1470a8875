// Brings the testbed up (a no-op when it is already healthy) before the integration tests.
// A component that cannot start fails the run with the testbed's own message: integration
// tests are never skipped.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { readTestbedEnv, repoRoot } from "./testbed-env";

/** When this run started (ms since the epoch): the teardown removes what was registered since. */
export const RUN_STARTED = "M2S_TEST_RUN_STARTED";

export default function globalSetup(): void {
  process.env[RUN_STARTED] = String(Date.now());
  // Child processes (the CLI, the Pulumi runner) run the compiled sources.
  const build = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: repoRoot, stdio: "inherit" });
  if (build.status !== 0) throw new Error("npm run build failed: see the TypeScript errors above");
  const result = spawnSync(join(repoRoot, "testbed", "up.sh"), { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) {
    throw new Error(
      `The testbed could not start (testbed/up.sh exited ${result.status ?? result.signal}); ` +
        `see the message above and the logs in .testbed/logs. Integration tests need the real MLflow, ` +
        `kube-apiserver and Pulumi CLI.`,
    );
  }
  Object.assign(process.env, readTestbedEnv());
}
