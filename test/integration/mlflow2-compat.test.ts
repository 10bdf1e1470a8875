// The engine against the older API generation: a real MLflow 2.x server (testbed's second
// MLflow), with pagination, stages and aliases, driving a real kube-apiserver.
import { mlflow } from "../support/mlflow";
import { freshNamespace, listSeldonDeployments } from "../support/cluster";
import { uniqueModelName } from "../support/mlflow";
import { syncFixture } from "../support/sync";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

test("an MLflow 2.x registry is followed: every page, stages and aliases, promotion and archive", async () => {
  const url = process.env.M2S_TESTBED_MLFLOW2_URI as string;
  const client = mlflow(url);
  const prefix = uniqueModelName("legacy");
  const names = [`${prefix} a`, `${prefix}_b`, `${prefix}-c`];
  for (const name of names) {
    await client.createRegisteredModel(name);
    await client.createModelVersion(name, `mlflow-artifacts:/legacy/${name}/v1`);
    await client.createModelVersion(name, `mlflow-artifacts:/legacy/${name}/v2`);
    await client.transitionStage(name, "1", "Production");
    await client.setAlias(name, "champion", "2");
  }
  const namespace = await freshNamespace("legacy");
  const service = syncFixture(namespace, prefix).service(
    { M2S_MLFLOW_HOST: url, M2S_INCLUDE_MODELS: `${prefix}*` },
    { pageSize: 2 },
  );
  expect((await service.runCycle()).ok).toBe(true);
  const served = (await listSeldonDeployments(namespace)).map((o) => [
    o.metadata.annotations[ANNOTATIONS.modelName],
    o.metadata.annotations[ANNOTATIONS.slot],
    o.metadata.labels[LABELS.version],
  ]);
  expect(served.sort()).toEqual(
    names
      .flatMap((name) => [
        [name, "alias:champion", "2"],
        [name, "stage:Production", "1"],
      ])
      .sort(),
  );

  await client.transitionStage(names[0], "2", "Production", true);
  await client.transitionStage(names[1], "1", "Archived");
  expect((await service.runCycle()).ok).toBe(true);
  const production = (await listSeldonDeployments(namespace)).filter(
    (o) => o.metadata.annotations[ANNOTATIONS.slot] === "stage:Production",
  );
  expect(
    production
      .map((o) => [o.metadata.annotations[ANNOTATIONS.modelName], o.metadata.labels[LABELS.version]])
      .sort(),
  ).toEqual(
    [
      [names[0], "2"],
      [names[2], "1"],
    ].sort(),
  );
});
