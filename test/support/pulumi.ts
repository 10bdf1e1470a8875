// Runs the real Pulumi CLI (through deploy/cli.js) in a scratch project folder with the
// testbed's local file:// backend.
import { spawnSync } from "node:child_process";
import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./testbed-env";

/** A project folder for one test file; node_modules is linked so plugins resolve @pulumi/pulumi. */
export function pulumiWorkDir(project: string, config: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), `${project}-`));
  writeFileSync(
    join(dir, "Pulumi.yaml"),
    `name: ${project}\nruntime: nodejs\n${
      Object.keys(config).length
        ? `config:\n${Object.entries(config)
            .map(([k, v]) => `  ${k}:\n    value: ${JSON.stringify(v)}`)
            .join("\n")}\n`
        : ""
    }`,
  );
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  return dir;
}

export interface PulumiRun {
  code: number | null;
  output: string;
}

export function runPulumi(
  operation: "preview" | "up" | "destroy" | "refresh",
  options: {
    stack: string;
    workDir: string;
    program?: string;
    policyPacks?: string[];
    env?: Record<string, string>;
  },
): PulumiRun {
  const args = [
    join(repoRoot, "dist", "deploy", "cli.js"),
    operation,
    "--stack",
    options.stack,
    "--work-dir",
    options.workDir,
  ];
  if (options.program) args.push("--program", options.program);
  for (const pack of options.policyPacks ?? []) args.push("--policy-pack", pack);
  const result = spawnSync(process.execPath, args, {
    cwd: options.workDir,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
  });
  return { code: result.status, output: `${result.stdout}\n${result.stderr}` };
}

export const compiled = (path: string) => join(repoRoot, "dist", path);
