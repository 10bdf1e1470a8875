// Brings the testbed up (a no-op when it is already healthy) before the integration tests, and
// records what it holds (the teardown compares). A component that cannot start fails the run with
// the testbed's own message: integration tests are never skipped.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { readTestbedEnv, repoRoot } from "./testbed-env";
import { testbedState, type TestbedState } from "./testbed-state";

/** When this run started (ms since the epoch): the teardown removes what was registered since. */
export const RUN_STARTED = "M2S_TEST_RUN_STARTED";
/** The testbed's state before the run: the setup and the teardown share jest's global object. */
const holder = globalThis as { m2sStateBeforeRun?: TestbedState };

export const stateBeforeRun = (): TestbedState | undefined => holder.m2sStateBeforeRun;

export default async function globalSetup(): Promise<void> {
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
  holder.m2sStateBeforeRun = await testbedState();
}
