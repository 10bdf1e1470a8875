// Promotion latency: with the service running, stages and aliases change in MLflow at random
// moments within a window; each latency runs from MLflow's answer to the change until the watch
// shows the SeldonDeployment with the new version. Promotions touch distinct models, so they
// overlap in time.
import { setTimeout as sleep } from "node:timers/promises";
import type { RegistryAdmin } from "../test/support/mlflow";
import { servedVersion, type BenchCluster } from "./cluster";
import { SERVING_ALIAS, type Promotion } from "./dataset";
import { seededRandom } from "./stats";

export interface PromotionLatency {
  kind: Promotion["kind"];
  ms: number;
}

export async function promotionLatencies(options: {
  client: RegistryAdmin;
  cluster: BenchCluster;
  promotions: Promotion[];
  /** Changes happen at random moments within this window. */
  windowMs: number;
  /** How long after the last change a promotion may still arrive. */
  deadlineMs: number;
  seed: number;
}): Promise<PromotionLatency[]> {
  const { client, cluster, promotions } = options;
  const random = seededRandom(options.seed);
  const changedAt = new Map<string, number>();
  const servedAt = new Map<string, number>();
  const expected = new Map(promotions.map((p) => [p.deployment, p.version]));
  const stopWatch = await cluster.watchObjects((object, at) => {
    const name = object.metadata.name;
    if (servedVersion(object) === expected.get(name) && !servedAt.has(name)) servedAt.set(name, at);
  });
  try {
    const window = options.windowMs;
    await Promise.all(
      promotions.map(async (promotion) => {
        await sleep(random() * window);
        if (promotion.kind === "stage") {
          await client.transitionStage(promotion.model, promotion.version, "Production", true);
        } else {
          await client.setAlias(promotion.model, SERVING_ALIAS, promotion.version);
        }
        changedAt.set(promotion.deployment, performance.now());
      }),
    );
    const deadline = performance.now() + options.deadlineMs;
    while (servedAt.size < promotions.length && performance.now() < deadline) await sleep(100);
  } finally {
    stopWatch();
  }
  const missing = promotions.filter((p) => !servedAt.has(p.deployment));
  if (missing.length > 0) {
    throw new Error(`promotions never served: ${missing.map((p) => `${p.model}@${p.version}`).join(", ")}`);
  }
  return promotions.map((p) => ({
    kind: p.kind,
    ms: Math.max(0, servedAt.get(p.deployment)! - changedAt.get(p.deployment)!),
  }));
}

/**
 * Hand-edit repair: `count` objects get their replicas changed by hand at random moments within
 * `windowMs`; each time runs from the API's answer to the edit until the watch shows the object
 * back at its replicas.
 */
export async function repairLatencies(options: {
  cluster: BenchCluster;
  count: number;
  windowMs: number;
  deadlineMs: number;
  seed: number;
}): Promise<number[]> {
  const { cluster } = options;
  const random = seededRandom(options.seed);
  const targets = await cluster.list(options.count);
  const replicasOf = (object: { spec?: unknown }) =>
    (object.spec as { predictors?: { replicas?: number }[] } | undefined)?.predictors?.[0]?.replicas;
  const original = new Map(targets.map((o) => [o.metadata.name, replicasOf(o)]));
  const editedAt = new Map<string, number>();
  const repairedAt = new Map<string, number>();
  const stopWatch = await cluster.watchObjects((object, at) => {
    const name = object.metadata.name;
    if (editedAt.has(name) && !repairedAt.has(name) && replicasOf(object) === original.get(name))
      repairedAt.set(name, at);
  });
  try {
    await Promise.all(
      targets.map(async (object) => {
        await sleep(random() * options.windowMs);
        await cluster.editReplicas(object.metadata.name, (original.get(object.metadata.name) ?? 1) + 6);
        editedAt.set(object.metadata.name, performance.now());
      }),
    );
    const deadline = performance.now() + options.deadlineMs;
    while (repairedAt.size < targets.length && performance.now() < deadline) await sleep(100);
  } finally {
    stopWatch();
  }
  const missing = targets.filter((o) => !repairedAt.has(o.metadata.name));
  if (missing.length > 0)
    throw new Error(`hand edits never repaired: ${missing.map((o) => o.metadata.name).join(", ")}`);
  return targets.map((o) => repairedAt.get(o.metadata.name)! - editedAt.get(o.metadata.name)!);
}
