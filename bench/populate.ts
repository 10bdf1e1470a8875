// Fills MLflow with the benchmark registry through its REST API and caches one snapshot per
// size and store, outside the repository and keyed by MLflow version and dataset version: later
// runs start from the snapshot instead of registering thousands of models again.
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { mapLimited } from "../engine/concurrency";
import { RegistryAdmin } from "../test/support/mlflow";
import { benchModel, DATASET_VERSION, SERVING_ALIAS, VERSIONS_PER_MODEL, versionSource } from "./dataset";
import type { RegistryStore } from "./mlflow-server";
import { progress } from "./progress";

const cacheDir = () => join(process.env.M2S_CACHE_DIR ?? join(homedir(), ".cache", "mlflow2seldon"), "bench");

export function snapshotPath(store: RegistryStore, models: number): string {
  return join(
    cacheDir(),
    `registry-${store.snapshotKey()}-d${DATASET_VERSION}-${models}.${store.snapshotSuffix}`,
  );
}

async function registerModel(client: RegistryAdmin, sourceRoot: string, index: number): Promise<void> {
  const model = benchModel(index);
  await client.createRegisteredModel(model.name, { team: index % 2 ? "fraud" : "growth" });
  for (let v = 1; v <= VERSIONS_PER_MODEL; v++)
    await client.createModelVersion(model.name, versionSource(sourceRoot, model.name, v));
  if (model.production) await client.transitionStage(model.name, model.production, "Production");
  if (model.staging) await client.transitionStage(model.name, model.staging, "Staging");
  if (model.champion) await client.setAlias(model.name, SERVING_ALIAS, model.champion);
}

/** Makes sure a snapshot exists for every size; builds the missing ones in one growing registry. */
export async function ensureRegistries(
  store: RegistryStore,
  sizes: readonly number[],
  workDir: string,
  port: number,
): Promise<void> {
  const missing = sizes.filter((n) => !existsSync(snapshotPath(store, n)));
  if (missing.length === 0) return;
  mkdirSync(cacheDir(), { recursive: true });
  const server = await store.start({
    name: "populate",
    workDir,
    port,
    logFile: join(workDir, "mlflow-populate.log"),
    authenticated: false,
  });
  try {
    const client = new RegistryAdmin(server.admin);
    const started = performance.now();
    let done = 0;
    const largest = Math.max(...missing);
    for (const size of [...sizes].sort((a, b) => a - b)) {
      if (size > largest) break;
      const indexes = Array.from({ length: size - done }, (_, k) => done + k);
      await mapLimited(indexes, 4, async (i) => {
        await registerModel(client, store.sourceRoot, i);
        if ((i + 1) % 250 === 0) progress(`populating: ${i + 1}/${largest} registered models`);
      });
      done = size;
      if (existsSync(snapshotPath(store, size))) continue;
      const partial = `${snapshotPath(store, size)}.partial`;
      server.snapshot(partial);
      renameSync(partial, snapshotPath(store, size));
      const minutes = (performance.now() - started) / 60_000;
      progress(
        `registry of ${size} models cached after ${minutes.toFixed(1)} min: ${snapshotPath(store, size)}`,
      );
    }
  } finally {
    await server.stop();
  }
}
