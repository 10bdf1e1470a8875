// Promotion latency: with the service running at its interval, stages and aliases change in
// MLflow at random moments; each latency runs from MLflow's answer to the change until the
// watch shows the SeldonDeployment with the new version. Promotions touch distinct models, so
// they overlap in time and 20 of them take a few intervals, not 20.
import { setTimeout as sleep } from "node:timers/promises";
import type { RegistryAdmin } from "../test/support/mlflow";
import type { BenchCluster } from "./cluster";
import { SERVING_ALIAS, type Promotion } from "./dataset";
import { seededRandom } from "./stats";

export async function promotionLatencies(options: {
  client: RegistryAdmin;
  cluster: BenchCluster;
  promotions: Promotion[];
  intervalMs: number;
  seed: number;
}): Promise<number[]> {
  const { client, cluster, promotions, intervalMs } = options;
  const random = seededRandom(options.seed);
  const changedAt = new Map<string, number>();
  const servedAt = new Map<string, number>();
  const expected = new Map(promotions.map((p) => [p.deployment, p.version]));
  const stopWatch = await cluster.watchVersions((name, version, at) => {
    if (version === expected.get(name) && !servedAt.has(name)) servedAt.set(name, at);
  });
  try {
    const window = 2 * intervalMs;
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
    // Every change is picked up within one interval plus a cycle; allow three.
    const deadline = performance.now() + 3 * intervalMs;
    while (servedAt.size < promotions.length && performance.now() < deadline) await sleep(100);
  } finally {
    stopWatch();
  }
  const missing = promotions.filter((p) => !servedAt.has(p.deployment));
  if (missing.length > 0) {
    throw new Error(`promotions never served: ${missing.map((p) => `${p.model}@${p.version}`).join(", ")}`);
  }
  return promotions.map((p) => Math.max(0, servedAt.get(p.deployment)! - changedAt.get(p.deployment)!));
}
