// Test helpers that shape the real MLflow registry of the testbed through its REST API.
import { randomBytes } from "node:crypto";
import { MlflowClient } from "../../engine/mlflow/client";

export const mlflowUrl = () => {
  const url = process.env.MLFLOW_TRACKING_URI;
  if (!url) throw new Error("MLFLOW_TRACKING_URI is not set: the testbed environment was not loaded");
  return url;
};

export const mlflow = () => new MlflowClient({ url: mlflowUrl() });

/** A registered-model name unique to this run, keeping the given (possibly awkward) stem. */
export const uniqueModelName = (stem: string) => `${stem} ${randomBytes(3).toString("hex")}`;

/** Registers `count` versions whose sources are served-artifact URIs. */
export async function registerModel(name: string, count: number, tags: Record<string, string> = {}) {
  const client = mlflow();
  await client.createRegisteredModel(name, tags);
  const versions = [];
  for (let i = 1; i <= count; i++) {
    versions.push(
      await client.createModelVersion(
        name,
        `mlflow-artifacts:/registry-tests/${encodeURIComponent(name)}/v${i}/model`,
      ),
    );
  }
  return versions;
}
