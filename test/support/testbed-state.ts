// What a test run could leave behind on the testbed it shares with the next run: the registered
// models and webhooks of each MLflow server, the cluster's namespaces and the Pulumi stacks. The
// global setup records it; the global teardown, after removing what the run made, compares.
import { CoreV1Api } from "@kubernetes/client-node";
import { spawnSync } from "node:child_process";
import { kubeConfig } from "./cluster";
import type { MlflowClientOptions } from "../../engine/registry/mlflow-client";
import { mlflow, productionMlflowAdmin } from "./mlflow";
import { repoRoot } from "./testbed-env";

/** Each kind of thing, by the names it holds. */
export type TestbedState = Record<string, string[]>;

/** The MLflow servers of the testbed (the environment's names for them), with an admin's credentials where they ask. */
export function mlflowServers(): MlflowClientOptions[] {
  const plain = [
    process.env.MLFLOW_TRACKING_URI,
    process.env.M2S_TESTBED_MLFLOW2_URI,
    process.env.M2S_TESTBED_S3_MLFLOW_URI,
  ].filter((url): url is string => Boolean(url));
  const production = process.env.M2S_TESTBED_MLFLOW_PROD_URI ? [productionMlflowAdmin()] : [];
  return [...plain.map((url) => ({ url })), ...production];
}

export async function testbedState(): Promise<TestbedState> {
  const state: TestbedState = {};
  for (const server of mlflowServers()) {
    const registry = mlflow(server);
    state[`registered models on ${server.url}`] = (await registry.listRegisteredModels()).map((m) => m.name);
    // Webhooks exist from MLflow 3.3 on; the older server answers 404.
    state[`webhooks on ${server.url}`] = (await registry.listWebhookRecords().catch(() => [])).map(
      (w) => w.name,
    );
  }
  const namespaces = await kubeConfig().makeApiClient(CoreV1Api).listNamespace();
  state.namespaces = namespaces.items
    .filter((n) => n.status?.phase !== "Terminating")
    .map((n) => n.metadata!.name!);
  const stacks = spawnSync("pulumi", ["stack", "ls", "--json"], { cwd: repoRoot, encoding: "utf8" });
  state["Pulumi stacks"] =
    stacks.status === 0 ? (JSON.parse(stacks.stdout) as { name: string }[]).map((s) => s.name) : [];
  return state;
}

/** What `after` holds that `before` did not, one line per kind. */
export function leftBehind(before: TestbedState, after: TestbedState): string[] {
  return Object.entries(after).flatMap(([kind, names]) => {
    const known = new Set(before[kind] ?? []);
    const extra = names.filter((name) => !known.has(name)).sort();
    return extra.length > 0 ? [`${kind}: ${extra.join(", ")}`] : [];
  });
}
