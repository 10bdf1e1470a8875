// `pulumi up` and `pulumi preview` of a repository stack whose snapshot holds a given number of
// model deployments: the first up, then no-change previews, each the whole plain CLI command as a
// person runs it from the repository root; then destroyed and removed.
import { pulumiOk, repositoryStack } from "../test/support/pulumi";
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

/** One plain CLI command from the repository root, timed as a person runs it. */
function timed(args: string[], stack: string): number {
  const started = performance.now();
  pulumiOk([...args, "--stack", stack]);
  return (performance.now() - started) / 1000;
}

export interface PulumiTimes {
  up: number;
  previews: number[];
}

export async function pulumiSeconds(options: {
  mlflowUrl: string;
  models: string[];
  deployments: number;
  id: string;
  repetitions: number;
}): Promise<PulumiTimes> {
  const stack = repositoryStack(`bench-${options.id}`, {
    mlflowUrl: options.mlflowUrl,
    deploymentNamespace: `bench-models-${options.id}`,
    serviceNamespace: `bench-m2s-${options.id}`,
    serviceImage: "registry.example.com/mlflow2seldon:0.1.0",
    wrapperImage: "registry.example.com/mlflow-wrapper:1.0",
    stackModels: JSON.stringify(options.models),
    skipAwait: "true",
  });
  try {
    progress(
      `pulumi up of a stack serving ${options.deployments} deployments of ${options.models.length} models`,
    );
    const up = timed(["up", "--yes"], stack.name);
    progress(`pulumi up: ${up.toFixed(1)} s`);
    const previews: number[] = [];
    for (let r = 1; r <= options.repetitions; r++) {
      previews.push(timed(["preview", "--diff"], stack.name));
      progress(`pulumi preview ${r}/${options.repetitions}: ${previews.at(-1)!.toFixed(1)} s`);
    }
    return { up, previews };
  } finally {
    pulumiOk(["destroy", "--yes", "--stack", stack.name]);
    stack.remove();
  }
}
