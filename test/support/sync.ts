// Builds a sync service for one test file: its own namespace, owner and model-name prefix, so
// test files sharing the testbed never see each other's models or objects.
import { randomBytes } from "node:crypto";
import type { MlflowClientOptions } from "../../engine/registry/mlflow-client";
import { parseServiceEnv } from "../../service/env";
import { createLogger } from "../../service/logger";
import { SyncService } from "../../service/sync-service";
import { mlflowUnderTest } from "./mlflow";

export interface SyncFixture {
  namespace: string;
  prefix: string;
  owner: string;
  /** A service for the fixture's models; `mlflow` adjusts its MLflow client (e.g. a small page size). */
  service: (env?: Record<string, string | undefined>, mlflow?: Partial<MlflowClientOptions>) => SyncService;
}

export function syncFixture(namespace: string, stem: string): SyncFixture {
  const id = randomBytes(3).toString("hex");
  const prefix = `${stem} ${id}`;
  const owner = `test-${id}`;
  return {
    namespace,
    prefix,
    owner,
    service: (env = {}, mlflow = {}) => {
      const config = parseServiceEnv({
        ...mlflowUnderTest().serviceSettings,
        M2S_SELDON_DEPLOYMENT_NS: namespace,
        M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/mlflow-wrapper:1.0",
        M2S_MLFLOW_STORAGE_ROOT: "/mnt/mlflow",
        M2S_INCLUDE_MODELS: `${prefix}*`,
        M2S_OWNER: owner,
        M2S_LOG_LEVEL: "error",
        ...env,
      });
      return new SyncService({ ...config, mlflow: { ...config.mlflow, ...mlflow } }, createLogger("silent"));
    },
  };
}

/** Runs one cycle and fails with the cycle's own report when it did not fully succeed. */
export async function cycleOk(service: SyncService) {
  const outcome = await service.runCycle();
  if (!outcome.ok) throw new Error(`cycle failed: ${JSON.stringify(outcome)}`);
  return outcome;
}

/** Kubernetes writes (applies and deletes) the service sent, from its own metrics. */
export async function kubeWrites(service: SyncService): Promise<number> {
  const { values } = await service.metrics.kubeRequests.get();
  return values
    .filter((v) => v.labels.verb === "apply" || v.labels.verb === "delete")
    .reduce((n, v) => n + v.value, 0);
}

/** MLflow requests the service sent (retries included) by endpoint, from its own metrics. */
export async function mlflowRequests(service: SyncService): Promise<Record<string, number>> {
  const { values } = await service.metrics.mlflowRequests.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.endpoint), v.value]));
}

/** The requests sent between two readings of `mlflowRequests`, by endpoint (endpoints with none left out). */
export function requestsBetween(before: Record<string, number>, after: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([endpoint, n]) => [endpoint, n - (before[endpoint] ?? 0)] as const)
      .filter(([, n]) => n > 0),
  );
}
