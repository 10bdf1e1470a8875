// Runs the real Pulumi CLI (through deploy/cli.js) in a scratch project folder with the
// testbed's local file:// backend.
import { spawnSync } from "node:child_process";
import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./testbed-env";

/**
 * A project folder for one test file, so stacks' config files stay out of the repository;
 * node_modules and dist are linked, as the provider host loads them from its working directory.
 */
export function pulumiWorkDir(project: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${project}-`));
  writeFileSync(join(dir, "Pulumi.yaml"), `name: ${project}\nruntime: nodejs\n`);
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  symlinkSync(join(repoRoot, "dist"), join(dir, "dist"));
  return dir;
}

/** Runs the pulumi CLI itself (stack and config commands need no program). */
export function pulumiCli(args: string[], workDir: string): string {
  const result = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: workDir, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`pulumi ${args[0]} ${args[1] ?? ""} failed: ${result.stderr}`);
  return result.stdout;
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
    timeout: 4 * 60 * 1000,
  });
  return { code: result.status, output: `${result.stdout}\n${result.stderr}` };
}

export const compiled = (path: string) => join(repoRoot, "dist", path);
