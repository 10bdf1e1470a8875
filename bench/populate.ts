// Fills MLflow with the benchmark registry through its REST API and caches one sqlite snapshot
// per size, outside the repository and keyed by MLflow version and dataset version: later runs
// copy the snapshot instead of registering thousands of models again.
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { mapLimited } from "../engine/concurrency";
import { RegistryAdmin, mlflow } from "../test/support/mlflow";
import { benchModel, DATASET_VERSION, SERVING_ALIAS, VERSIONS_PER_MODEL, versionSource } from "./dataset";
import { backupSqlite, startMlflowServer, venvKey } from "./mlflow-server";
import { progress } from "./progress";

const cacheDir = () => join(process.env.M2S_CACHE_DIR ?? join(homedir(), ".cache", "mlflow2seldon"), "bench");

export function snapshotPath(models: number): string {
  return join(cacheDir(), `registry-${venvKey()}-d${DATASET_VERSION}-${models}.db`);
}

async function registerModel(client: RegistryAdmin, index: number): Promise<void> {
  const model = benchModel(index);
  await client.createRegisteredModel(model.name, { team: index % 2 ? "fraud" : "growth" });
  for (let v = 1; v <= VERSIONS_PER_MODEL; v++)
    await client.createModelVersion(model.name, versionSource(model.name, v));
  if (model.production) await client.transitionStage(model.name, model.production, "Production");
  if (model.staging) await client.transitionStage(model.name, model.staging, "Staging");
  if (model.champion) await client.setAlias(model.name, SERVING_ALIAS, model.champion);
}

/** Makes sure a snapshot exists for every size; builds the missing ones in one growing registry. */
export async function ensureRegistries(
  sizes: readonly number[],
  workDir: string,
  port: number,
): Promise<void> {
  const missing = sizes.filter((n) => !existsSync(snapshotPath(n)));
  if (missing.length === 0) return;
  mkdirSync(cacheDir(), { recursive: true });
  const database = join(workDir, "populate", "mlflow.db");
  rmSync(join(workDir, "populate"), { recursive: true, force: true });
  mkdirSync(join(workDir, "populate"), { recursive: true });
  const server = await startMlflowServer({ database, port, logFile: join(workDir, "mlflow-populate.log") });
  try {
    const client = mlflow(server.url);
    let done = 0;
    const largest = Math.max(...missing);
    for (const size of [...sizes].sort((a, b) => a - b)) {
      if (size > largest) break;
      const indexes = Array.from({ length: size - done }, (_, k) => done + k);
      await mapLimited(indexes, 4, async (i) => {
        await registerModel(client, i);
        if ((i + 1) % 250 === 0) progress(`populating: ${i + 1}/${largest} registered models`);
      });
      done = size;
      if (existsSync(snapshotPath(size))) continue;
      const partial = `${snapshotPath(size)}.partial`;
      backupSqlite(database, partial);
      renameSync(partial, snapshotPath(size));
      progress(`registry of ${size} models cached: ${snapshotPath(size)}`);
    }
  } finally {
    await server.stop();
  }
}

/** A private working copy of a cached registry (benchmarks change stages and aliases). */
export function copyRegistry(models: number, workDir: string): string {
  const dir = join(workDir, `registry-${models}`);
  mkdirSync(dir, { recursive: true });
  const database = join(dir, "mlflow.db");
  copyFileSync(snapshotPath(models), database);
  return database;
}
