// `mlflow2seldon status` on the testbed: every state a slot or an owned object can be in, as a
// table and as JSON, exit 1 until a cycle brings everything in sync, then exit 0.
import {
  createForeignSeldonDeployment,
  customObjects,
  editObject,
  freshNamespace,
  listSeldonDeployments,
  seldon,
} from "../support/cluster";
import { mlflow, mlflowUnderTest, registerModel } from "../support/mlflow";
import { run } from "../support/pulumi";
import { syncFixture } from "../support/sync";
import { repoRoot } from "../support/testbed-env";
import { LABELS } from "../../engine/vocabulary";

test("status reports in sync, drifted, missing, orphan and conflict, then all in sync after a cycle", async () => {
  const namespace = await freshNamespace("status");
  const fx = syncFixture(namespace, "status model");
  const env = {
    ...mlflowUnderTest().serviceSettings,
    M2S_SELDON_DEPLOYMENT_NS: namespace,
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/mlflow-wrapper:1.0",
    M2S_INCLUDE_MODELS: `${fx.prefix}*`,
    M2S_OWNER: fx.owner,
  };
  const [steady, edited, promoted, archived, taken, fresh] = [
    "steady",
    "edited",
    "promoted",
    "archived",
    "taken",
    "fresh",
  ].map((n) => `${fx.prefix} ${n}`);
  for (const name of [steady, edited, promoted, archived, taken, fresh]) await registerModel(name, 2);
  for (const name of [steady, edited, promoted, archived])
    await mlflow().transitionStage(name, "1", "Production");
  const service = fx.service();
  await service.runCycle();
  const objects = await listSeldonDeployments(namespace);
  const objectOf = (model: string) =>
    objects.find((o) => o.metadata.annotations["mlflow2seldon.io/model-name"] === model);

  // drifted: a hand edit, or a promotion of a served model; missing: a first promotion; orphan: an
  // archive; conflict: a foreign object holds the name.
  const editedName = objectOf(edited).metadata.name;
  await editObject(seldon, namespace, editedName, (edit) => {
    edit.spec.predictors[0].replicas = 5;
  });
  await mlflow().transitionStage(promoted, "2", "Production", true);
  await mlflow().transitionStage(archived, "1", "Archived");
  await mlflow().transitionStage(taken, "1", "Production");
  await mlflow().transitionStage(fresh, "1", "Production");
  const plan = await service.runCycle({ dryRun: true });
  const takenName = plan.report!.changes.find((c) => c.model === taken)!.name;
  await createForeignSeldonDeployment(namespace, takenName, { team: "other" });

  const cli = (...args: string[]) =>
    run(process.execPath, [`${repoRoot}/bin/mlflow2seldon.js`, "status", ...args], { env });
  const table = cli();
  expect(table.code).toBe(1);
  expect(table.stdout.split("\n")[0]).toMatch(/^MODEL\s+SLOT\s+WANTED\s+SERVED\s+OBJECT\s+SERVING\s+STATE$/);
  const json = cli("--output", "json");
  expect(json.code).toBe(1);
  const rows = JSON.parse(json.stdout) as {
    model: string;
    state: string;
    wanted?: string;
    served?: string;
  }[];
  const stateOf = (model: string) => rows.find((r) => r.model === model);
  expect(stateOf(steady)).toMatchObject({ state: "in sync", wanted: "1", served: "1" });
  expect(stateOf(edited)).toMatchObject({ state: "drifted", wanted: "1", served: "1" });
  expect(stateOf(promoted)).toMatchObject({ state: "drifted", wanted: "2", served: "1" });
  expect(stateOf(archived)).toMatchObject({ state: "orphan", served: "1" });
  expect(stateOf(taken)).toMatchObject({ state: "conflict", wanted: "1" });
  expect(stateOf(fresh)).toMatchObject({ state: "missing", wanted: "1" });
  expect(stateOf(fresh)?.served).toBeUndefined();
  expect(table.stdout).toContain("conflict");

  // Nothing was written by status; a cycle fixes all but the conflict, which stays someone else's.
  expect(
    (await listSeldonDeployments(namespace)).find((o) => o.metadata.name === editedName).spec.predictors[0]
      .replicas,
  ).toBe(5);
  await service.runCycle();
  await customObjects().deleteNamespacedCustomObject({ ...seldon, namespace, name: takenName });
  await service.runCycle();
  const after = cli("--output", "json");
  expect(after.code).toBe(0);
  expect(new Set((JSON.parse(after.stdout) as { state: string }[]).map((r) => r.state))).toEqual(
    new Set(["in sync"]),
  );
  expect(
    (await listSeldonDeployments(namespace)).every((o) => o.metadata.labels[LABELS.owner] === fx.owner),
  ).toBe(true);
});
