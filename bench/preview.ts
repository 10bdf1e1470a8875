// `pulumi up` and `pulumi preview` of a repository stack whose snapshot holds a given number of
// model deployments: the first up, then no-change previews, each the whole plain CLI command as a
// person runs it from the repository root; then destroyed and removed.
import { readFileSync, statSync } from "node:fs";
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
function timed(args: string[], stack: string, env: Record<string, string> = {}): number {
  const started = performance.now();
  pulumiOk([...args, "--stack", stack], { env });
  return (performance.now() - started) / 1000;
}

export interface PulumiTimes {
  /** The first `pulumi up --yes` (preview, then create). */
  up: number;
  /** No-change `pulumi preview --diff` runs. */
  previews: number[];
  /** MLflow requests of each no-change preview, from the server's access log. */
  previewMlflowRequests: number[];
  /** The first `pulumi up --yes` of a twin stack with PULUMI_SKIP_CHECKPOINTS=true. */
  upWithoutCheckpoints: number;
}

/** The DIY backend writes the whole state after every step: opt out of those intermediate writes. */
const SKIP_CHECKPOINTS = { PULUMI_SKIP_CHECKPOINTS: "true" };

export async function pulumiSeconds(options: {
  mlflowUrl: string;
  models: string[];
  deployments: number;
  id: string;
  repetitions: number;
  /** The MLflow server's log, where it writes one access line per request. */
  mlflowLog: string;
}): Promise<PulumiTimes> {
  const mlflowRequestsDuring = (action: () => void) => {
    const offset = statSync(options.mlflowLog).size;
    action();
    const written = readFileSync(options.mlflowLog).subarray(offset).toString("utf8");
    return written.match(/"(GET|POST) \/api\/2\.0\/mlflow\//g)?.length ?? 0;
  };
  // Two stacks with their own namespaces: a destroyed namespace takes a moment to go away.
  const stackFor = (suffix: string) =>
    repositoryStack(`bench-${options.id}${suffix}`, {
      mlflowUrl: options.mlflowUrl,
      deploymentNamespace: `bench-models-${options.id}${suffix}`,
      serviceNamespace: `bench-m2s-${options.id}${suffix}`,
      serviceImage: "registry.example.com/mlflow2seldon:0.1.0",
      wrapperImage: "registry.example.com/mlflow-wrapper:1.0",
      stackModels: JSON.stringify(options.models),
      skipAwait: "true",
    });
  const teardown = (stack: ReturnType<typeof stackFor>) => {
    pulumiOk(["destroy", "--yes", "--stack", stack.name], { env: SKIP_CHECKPOINTS });
    stack.remove();
  };
  const label = `${options.deployments} deployments of ${options.models.length} models`;
  const stack = stackFor("");
  let times: Omit<PulumiTimes, "upWithoutCheckpoints">;
  try {
    progress(`pulumi up of a stack serving ${label}`);
    const up = timed(["up", "--yes"], stack.name);
    progress(`pulumi up: ${up.toFixed(1)} s`);
    const previews: number[] = [];
    const previewMlflowRequests: number[] = [];
    for (let r = 1; r <= options.repetitions; r++) {
      previewMlflowRequests.push(
        mlflowRequestsDuring(() => previews.push(timed(["preview", "--diff"], stack.name))),
      );
      progress(
        `pulumi preview ${r}/${options.repetitions}: ${previews.at(-1)!.toFixed(1)} s, ${previewMlflowRequests.at(-1)} MLflow requests`,
      );
    }
    times = { up, previews, previewMlflowRequests };
  } finally {
    teardown(stack);
  }
  const twin = stackFor("-nc");
  try {
    const upWithoutCheckpoints = timed(["up", "--yes"], twin.name, SKIP_CHECKPOINTS);
    progress(`pulumi up with PULUMI_SKIP_CHECKPOINTS=true: ${upWithoutCheckpoints.toFixed(1)} s`);
    return { ...times, upWithoutCheckpoints };
  } finally {
    teardown(twin);
  }
}
