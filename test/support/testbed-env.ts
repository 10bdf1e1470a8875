// Reads .testbed/env (export lines written by testbed/up.sh) into an environment object.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The folder holding package.json, from the sources or from their build in dist/. */
function findRepoRoot(dir: string): string {
  while (!existsSync(join(dir, "package.json"))) {
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = dirname(dir);
  }
  return dir;
}

export const repoRoot = findRepoRoot(__dirname);
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
