// `pulumi preview` of a stack whose snapshot holds a given number of model deployments: the
// stack is brought up once (not timed), previewed a few times (timed, the whole command as a
// person runs it), then destroyed and removed.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pulumiCli, pulumiWorkDir } from "../test/support/pulumi";
import { benchModel } from "./dataset";
import { progress } from "./progress";

/** Model names, in registry order, whose slots add up to exactly `deployments`. */
export function modelsServing(deployments: number, registrySize: number): string[] {
  const names: string[] = [];
  let slots = 0;
  for (let i = 0; i < registrySize && slots < deployments; i++) {
    const m = benchModel(i);
    const count = Number(Boolean(m.production)) + Number(Boolean(m.staging)) + Number(Boolean(m.champion));
    if (count === 0 || slots + count > deployments) continue;
    names.push(m.name);
    slots += count;
  }
  if (slots !== deployments)
    throw new Error(`the registry of ${registrySize} models serves fewer than ${deployments}`);
  return names;
}

function deploy(operation: "up" | "preview" | "destroy", stack: string, workDir: string): number {
  const started = performance.now();
  const cli = join(__dirname, "..", "deploy", "cli.js");
  const program = join(__dirname, "..", "index.js");
  const result = spawnSync(
    process.execPath,
    [cli, operation, "--stack", stack, "--work-dir", workDir, "--program", program],
    { cwd: workDir, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
  );
  if (result.status !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.split("\n").slice(-40).join("\n");
    throw new Error(`pulumi ${operation} exited ${result.status}:\n${tail}`);
  }
  return (performance.now() - started) / 1000;
}

export async function previewSeconds(options: {
  mlflowUrl: string;
  models: string[];
  deployments: number;
  id: string;
  repetitions: number;
}): Promise<number[]> {
  const stack = `bench-${options.id}`;
  const workDir = pulumiWorkDir("mlflow2seldon");
  const config: Record<string, string> = {
    mlflowUrl: options.mlflowUrl,
    deploymentNamespace: `bench-models-${options.id}`,
    serviceNamespace: `bench-m2s-${options.id}`,
    serviceImage: "registry.example.com/mlflow2seldon:0.1.0",
    wrapperImage: "registry.example.com/mlflow-wrapper:1.0",
    stackModels: JSON.stringify(options.models),
    skipAwait: "true",
  };
  pulumiCli(["stack", "init", stack], workDir);
  try {
    for (const [key, value] of Object.entries(config))
      pulumiCli(["config", "set", "--stack", stack, `mlflow2seldon:${key}`, value], workDir);
    progress(
      `pulumi up of a stack serving ${options.deployments} deployments of ${options.models.length} models (not timed)`,
    );
    deploy("up", stack, workDir);
    const seconds: number[] = [];
    for (let r = 1; r <= options.repetitions; r++) {
      seconds.push(deploy("preview", stack, workDir));
      progress(`pulumi preview ${r}/${options.repetitions}: ${seconds.at(-1)!.toFixed(1)} s`);
    }
    return seconds;
  } finally {
    deploy("destroy", stack, workDir);
    pulumiCli(["stack", "rm", "--yes", stack], workDir);
  }
}
