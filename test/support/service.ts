// The `mlflow2seldon` command as tests run it, the way a user does: its environment for one
// namespace and one set of models, and the figures it serves on /metrics.
import { join } from "node:path";
import { mlflowUrl } from "./mlflow";
import { repoRoot } from "./testbed-env";

export const serviceBin = join(repoRoot, "bin", "mlflow2seldon.js");

/** The environment of a service writing to `namespace` as `owner`, for the models named `prefix*`. */
export function serviceEnv(
  namespace: string,
  prefix: string,
  owner: string,
  settings: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    KUBECONFIG: process.env.KUBECONFIG,
    M2S_MLFLOW_HOST: mlflowUrl(),
    M2S_SELDON_DEPLOYMENT_NS: namespace,
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/mlflow-wrapper:1.0",
    M2S_INCLUDE_MODELS: `${prefix}*`,
    M2S_OWNER: owner,
    ...settings,
  };
}

/** One series' value on the service's /metrics (0 when it has none yet). */
export async function metricValue(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
