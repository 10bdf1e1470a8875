// Canary and shadow rollouts driven by the registry, against the testbed's MLflow and
// kube-apiserver (whose schema for SeldonDeployment judges every object): the split follows the
// candidate's stage or alias and the model's tag, and ends when the candidate is promoted or archived.
import { spawnSync } from "node:child_process";
import { MODEL_TAGS } from "../../engine/plan/planner";
import { freshNamespace, listSeldonDeployments, writtenContent } from "../support/cluster";
import { mlflow, registerModel } from "../support/mlflow";
import { serviceBin, serviceEnv } from "../support/service";
import { cycleOk, syncFixture, type SyncFixture } from "../support/sync";
import { ANNOTATIONS } from "../../engine/vocabulary";

let fx: SyncFixture;
beforeAll(async () => {
  fx = syncFixture(await freshNamespace("rollout"), "rollout model");
});

interface Predictor {
  name: string;
  traffic?: number;
  shadow?: boolean;
  componentSpecs: { spec: { containers: { env: { name: string; value: string }[] }[] } }[];
}

/** The model's Production object, if any. */
const productionObject = async (model: string) =>
  (await listSeldonDeployments(fx.namespace)).find(
    (o) =>
      o.metadata.annotations?.[ANNOTATIONS.modelName] === model &&
      o.metadata.annotations?.[ANNOTATIONS.slot] === "stage:Production",
  );

/** What each predictor of the Production object serves, and how. */
async function split(model: string) {
  const object = await productionObject(model);
  return (object?.spec.predictors as Predictor[]).map((p) => ({
    name: p.name,
    version: p.componentSpecs[0].spec.containers[0].env.find((e) => e.name === "MODEL_VERSION")?.value,
    ...(p.traffic === undefined ? {} : { traffic: p.traffic }),
    ...(p.shadow === undefined ? {} : { shadow: p.shadow }),
  }));
}

test("a canary from Staging: split created, weights changed, candidate promoted, next candidate archived", async () => {
  const name = `${fx.prefix} canary`;
  const client = mlflow();
  await registerModel(name, 3);
  await client.transitionStage(name, "1", "Production");
  await client.transitionStage(name, "2", "Staging");
  await client.setRegisteredModelTag(name, MODEL_TAGS.canary, '{"from":"Staging","percent":10}');
  const service = fx.service();

  await cycleOk(service);
  expect(await split(name)).toEqual([
    { name: "default", version: "1", traffic: 90 },
    { name: "canary", version: "2", traffic: 10 },
  ]);
  const created = await productionObject(name);
  expect(created?.metadata.annotations[ANNOTATIONS.candidate]).toBe(
    "canary 10% of version 2 (stage:Staging)",
  );

  // The dry run shows the new split before anything is written.
  await client.setRegisteredModelTag(name, MODEL_TAGS.canary, '{"from":"Staging","percent":25}');
  const dryRun = spawnSync(process.execPath, [serviceBin, "sync", "--dry-run"], {
    env: serviceEnv(fx.namespace, fx.prefix, fx.owner, { M2S_MLFLOW_STORAGE_ROOT: "/mnt/mlflow" }),
    encoding: "utf8",
  });
  expect(dryRun.stdout).toContain(
    `update ${fx.namespace}/${created?.metadata.name}  ${name}@1 (stage:Production) with canary 25% of version 2 (stage:Staging)`,
  );
  await cycleOk(service);
  expect(await split(name)).toEqual([
    { name: "default", version: "1", traffic: 75 },
    { name: "canary", version: "2", traffic: 25 },
  ]);
  expect((await productionObject(name))?.metadata.uid).toBe(created?.metadata.uid);

  // Promoted: one predictor again, and the fields of the split are gone from the live object.
  await client.transitionStage(name, "2", "Production", true);
  await cycleOk(service);
  expect(await split(name)).toEqual([{ name: "default", version: "2" }]);
  expect((await productionObject(name))?.metadata.annotations[ANNOTATIONS.candidate]).toBeUndefined();

  await client.transitionStage(name, "3", "Staging");
  await cycleOk(service);
  expect(await split(name)).toEqual([
    { name: "default", version: "2", traffic: 75 },
    { name: "canary", version: "3", traffic: 25 },
  ]);
  await client.transitionStage(name, "3", "Archived");
  await cycleOk(service);
  expect(await split(name)).toEqual([{ name: "default", version: "2" }]);
});

test("a shadow from an alias, set for every model: every request mirrored to the challenger", async () => {
  const name = `${fx.prefix} shadow`;
  const client = mlflow();
  await registerModel(name, 2);
  await client.transitionStage(name, "1", "Production");
  await client.setAlias(name, "challenger", "2");
  const service = fx.service({ M2S_CANARY: '{"from":"@challenger","mode":"shadow"}' });

  await cycleOk(service);
  expect(await split(name)).toEqual([
    { name: "default", version: "1", traffic: 100 },
    { name: "shadow", version: "2", shadow: true },
  ]);
  await client.deleteAlias(name, "challenger");
  await cycleOk(service);
  expect(await split(name)).toEqual([{ name: "default", version: "1" }]);
});

test("a bad rollout tag is reported naming the tag, and the model's objects are kept as they are", async () => {
  const name = `${fx.prefix} bad tag`;
  const client = mlflow();
  await registerModel(name, 2);
  await client.transitionStage(name, "1", "Production");
  await client.transitionStage(name, "2", "Staging");
  await client.setRegisteredModelTag(name, MODEL_TAGS.canary, '{"from":"Staging","percent":10}');
  const service = fx.service();
  await cycleOk(service);
  const before = await listSeldonDeployments(fx.namespace);

  await client.setRegisteredModelTag(name, MODEL_TAGS.canary, '{"from":"Staging","percent":"half"}');
  const outcome = await service.runCycle();
  expect(outcome.ok).toBe(false);
  expect(outcome.report?.problems.map((p) => p.message)).toContainEqual(
    expect.stringContaining(
      `tag ${MODEL_TAGS.canary}=${JSON.stringify('{"from":"Staging","percent":"half"}')} is invalid`,
    ),
  );
  expect(outcome.report?.changes).toEqual([]);
  expect((await listSeldonDeployments(fx.namespace)).map(writtenContent)).toEqual(before.map(writtenContent));
});
