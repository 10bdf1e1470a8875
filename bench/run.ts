// Benchmarks of the engine's pure parts (npm run bench): planning cost and memory for large
// registries. Tests count requests and writes; wall-clock numbers live here, not in assertions.
import { performance } from "node:perf_hooks";
import type { RegisteredModel } from "../engine/mlflow/schemas";
import { deploymentName } from "../engine/naming";
import { plan, type ResolvedSlot } from "../engine/planner";
import { engineSettingsSchema } from "../engine/settings";
import { servingSlots } from "../engine/slots";

const settings = engineSettingsSchema.parse({
  namespace: "seldon",
  owner: "bench",
  defaultImage: "wrapper:1",
  aliases: ["champion"],
});

function registry(models: number): RegisteredModel[] {
  return Array.from({ length: models }, (_, i) => {
    const name = `model ${i} ${"x".repeat(i % 40)}`;
    const version = (v: number, stage: string) => ({
      name,
      version: String(v),
      current_stage: stage,
      source: `runs:/r${i}/model`,
      run_id: `r${i}`,
      status: "READY",
      tags: {},
      aliases: [],
    });
    return {
      name,
      tags: {},
      latest_versions: [version(1, "Staging"), version(2, "Production")],
      aliases: [{ alias: "champion", version: "2" }],
    };
  });
}

function measure(label: string, iterations: number, work: () => unknown): void {
  work();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  for (let i = 0; i < iterations; i++) work();
  const perRun = (performance.now() - started) / iterations;
  const heapDelta = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  console.log(
    JSON.stringify({
      benchmark: label,
      iterations,
      msPerRun: Number(perRun.toFixed(3)),
      heapDeltaMiB: Number(heapDelta.toFixed(1)),
    }),
  );
}

for (const models of [100, 1000, 5000]) {
  const snapshot = registry(models);
  const slots: ResolvedSlot[] = servingSlots(snapshot, settings).map((slot) => ({
    ...slot,
    location: {
      source: "runs:/r/model",
      runId: "r",
      artifactUri: `mlflow-artifacts:/1/${slot.model}/artifacts/model`,
    },
  }));
  measure(`select slots, ${models} models`, 20, () => servingSlots(snapshot, settings));
  measure(`plan ${slots.length} SeldonDeployments`, 20, () => plan({ slots }, settings));
}
measure("deploymentName x 10000", 10, () => {
  for (let i = 0; i < 10_000; i++) deploymentName(`Model ${i} ü`, { kind: "stage", name: "Production" });
});
console.log(JSON.stringify({ rssMiB: Number((process.memoryUsage().rss / 1024 / 1024).toFixed(1)) }));
