// Reads .testbed/env (export lines written by testbed/up.sh) into an environment object.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const repoRoot = join(__dirname, "..", "..");
export const testbedEnvFile = join(repoRoot, ".testbed", "env");

export function readTestbedEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (!existsSync(testbedEnvFile)) {
    throw new Error(`${testbedEnvFile} is missing: the testbed is not up (run make testbed-up)`);
  }
  const env: Record<string, string> = {};
  for (const line of readFileSync(testbedEnvFile, "utf8").split("\n")) {
    const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) env[match[1]] = match[2].replace("$PATH", base.PATH ?? "");
  }
  return env;
}
