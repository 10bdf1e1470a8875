// Runs the plain Pulumi CLI the way a user types it: from the repository root (or from another
// project's folder), against the testbed's local file:// backend.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./testbed-env";

export interface CommandRun {
  code: number | null;
  /** stdout and stderr together, as a terminal shows them. */
  output: string;
  stdout: string;
}

export interface RunOptions {
  /** Folder the command runs in (default: the repository root). */
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Text on standard input. */
  input?: string;
}

/** An environment where a variable given as undefined is left out, not set to "undefined". */
const withoutUnset = (env: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));

/** Runs one command line; stdout and stderr together, as a terminal shows them. */
export function run(command: string, args: string[], options: RunOptions = {}): CommandRun {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: withoutUnset({ ...process.env, ...options.env }),
    input: options.input ?? "",
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 8 * 60 * 1000,
  });
  return { code: result.status, output: `${result.stdout}\n${result.stderr}`, stdout: result.stdout };
}

/** Runs a command that must succeed; a failure shows the end of its output. */
export function runOk(command: string, args: string[], options: RunOptions = {}): string {
  const result = run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.code}:\n${result.output.split("\n").slice(-60).join("\n")}`,
    );
  }
  return result.output;
}

export const pulumi = (args: string[], options: RunOptions = {}) => run("pulumi", args, options);
export const pulumiOk = (args: string[], options: RunOptions = {}) => runOk("pulumi", args, options);

/** A stack of the repository's own project, removed (with its Pulumi.<stack>.yaml) by `remove`. */
export function repositoryStack(
  name: string,
  config: Record<string, string>,
  secrets: Record<string, string> = {},
) {
  pulumiOk(["stack", "init", name]);
  for (const [key, value] of Object.entries(config))
    // "--": a value may begin with "-" (a PEM certificate does).
    pulumiOk(["config", "set", "--stack", name, "--", `mlflow2seldon:${key}`, value]);
  for (const [key, value] of Object.entries(secrets))
    pulumiOk(["config", "set", "--stack", name, "--secret", `mlflow2seldon:${key}`], { input: value });
  return {
    name,
    remove: () => pulumiOk(["stack", "rm", "--yes", "--force", name]),
  };
}

/**
 * A TMPDIR of its own for the commands this test file runs (they inherit the worker's
 * environment): what they leave there can be counted, e.g. copies of a kubeconfig.
 */
export function privateTmpdir(stem: string) {
  const dir = mkdtempSync(join(tmpdir(), `${stem}-`));
  process.env.TMPDIR = dir;
  return {
    dir,
    /** Files named as the Kubernetes plugin names its kubeconfig copies (kubeconfigNNNN). */
    kubeconfigCopies: () => readdirSync(dir).filter((f) => /^kubeconfig\d+$/.test(f)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
