// KServe InferenceServices and Seldon Core v2 Models as targets, against the testbed's MLflow and
// kube-apiserver with both CRDs installed (their schemas judge every object): the same lifecycle
// and safety rules as SeldonDeployments (drift repair included), one service instance per target.
import { TARGETS, type TargetName } from "../../engine/serving-targets";
import {
  customObjects,
  editObject,
  freshNamespace,
  listServingObjects,
  storageUriOf,
  writtenContent,
} from "../support/cluster";
import { FaultProxy } from "../support/fault-proxy";
import { mlflow, mlflowUrl, registerModel } from "../support/mlflow";
import { cycleOk, kubeWrites, syncFixture, type SyncFixture } from "../support/sync";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";
import { eventually } from "../support/wait";

/** A wrong object per target, that the CRD's schema refuses. */
const invalid: Record<Exclude<TargetName, "seldon-v1">, Record<string, unknown>> = {
  kserve: { predictor: { minReplicas: "two", model: { modelFormat: { name: "mlflow" } } } },
  "seldon-v2": { requirements: ["mlflow"] },
};

describe.each(["kserve", "seldon-v2"] as const)("target %s", (targetName) => {
  const target = TARGETS[targetName];
  const [group, version] = target.apiVersion.split("/");
  let fx: SyncFixture;
  let proxy: FaultProxy;
  let service: ReturnType<SyncFixture["service"]>;

  const objectsOf = async (model: string) =>
    (await listServingObjects(target, fx.namespace)).filter(
      (o) => o.metadata.annotations?.[ANNOTATIONS.modelName] === model,
    );
  const cycle = () => cycleOk(service);

  beforeAll(async () => {
    fx = syncFixture(await freshNamespace(targetName), `${targetName} model`);
    proxy = new FaultProxy(new URL(mlflowUrl()));
    service = fx.service({
      M2S_MLFLOW_HOST: await proxy.start(),
      M2S_MLFLOW_TIMEOUT_SECONDS: "1",
      M2S_TARGET: targetName,
      M2S_MODEL_URI_PREFIX: "s3://models/artifacts",
      M2S_SELDON_CREDENTIALS_SECRET: "s3-credentials",
      M2S_SERVICE_ACCOUNT: "models-reader",
      M2S_RESOURCES: '{"limits":{"cpu":"1","memory":"1Gi"}}',
    });
  });
  afterAll(() => proxy.stop());

  // On the testbed KServe's webhooks decode an InferenceService before the schema judges it:
  // a wrong one is refused there (400) or by the schema (422).
  test("the API server refuses a wrong object", async () => {
    const refusal = await customObjects()
      .createNamespacedCustomObject({
        group,
        version,
        plural: target.plural,
        namespace: fx.namespace,
        body: {
          apiVersion: target.apiVersion,
          kind: target.kind,
          metadata: { name: "wrong" },
          spec: invalid[targetName],
        },
      })
      .then(
        () => undefined,
        (error: { code?: number }) => error.code,
      );
    expect(targetName === "kserve" ? [400, 422] : [422]).toContain(refusal);
  });

  test("promote, promote a newer version, archive: created, updated in place, removed", async () => {
    const name = `${fx.prefix} lifecycle`;
    await registerModel(name, 2);
    await mlflow().transitionStage(name, "1", "Production");
    await cycle();
    const [created] = await objectsOf(name);
    expect(created.kind).toBe(target.kind);
    expect(created.metadata.labels).toMatchObject({ [LABELS.owner]: fx.owner, [LABELS.version]: "1" });
    expect(storageUriOf(created)).toMatch(/^s3:\/\/models\/artifacts\/.+/);
    if (targetName === "kserve")
      expect(created.spec.predictor).toMatchObject({
        minReplicas: 1,
        serviceAccountName: "models-reader",
        model: {
          modelFormat: { name: "mlflow" },
          protocolVersion: "v2",
          resources: { limits: { cpu: "1" } },
        },
      });
    else
      expect(created.spec).toMatchObject({
        requirements: ["mlflow"],
        replicas: 1,
        secretName: "s3-credentials",
        memory: "1Gi",
      });

    await mlflow().transitionStage(name, "2", "Production", true);
    await cycle();
    const [updated] = await objectsOf(name);
    expect(updated.metadata.uid).toBe(created.metadata.uid);
    expect(updated.metadata.labels[LABELS.version]).toBe("2");
    expect(storageUriOf(updated)).not.toBe(storageUriOf(created));

    // A second cycle with no change writes nothing.
    const writes = await kubeWrites(service);
    await cycle();
    expect(await kubeWrites(service)).toBe(writes);

    await mlflow().transitionStage(name, "2", "Archived");
    await cycle();
    // KServe's finalizer holds a deleted InferenceService until its controller has cleaned up.
    await eventually(
      "the archived version's object removed",
      async () => (await objectsOf(name)).length === 0,
    );
  });

  test("a hand edit of a field the engine owns is reverted, in place", async () => {
    const name = `${fx.prefix} drift`;
    await registerModel(name, 1);
    await mlflow().transitionStage(name, "1", "Production");
    await cycle();
    const [before] = await objectsOf(name);
    await editObject(
      { group, version, plural: target.plural },
      fx.namespace,
      before.metadata.name,
      (edited) => {
        if (targetName === "kserve") edited.spec.predictor.minReplicas = 5;
        else edited.spec.replicas = 5;
      },
    );
    const outcome = await cycle();
    expect(outcome.report?.changes).toEqual([
      expect.objectContaining({ action: "update", name: before.metadata.name }),
    ]);
    const [after] = await objectsOf(name);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(targetName === "kserve" ? after.spec.predictor.minReplicas : after.spec.replicas).toBe(1);
    await mlflow().transitionStage(name, "1", "Archived");
    await cycle();
  });

  test("an MLflow outage or a malformed page deletes nothing", async () => {
    const name = `${fx.prefix} outage`;
    await registerModel(name, 1);
    await mlflow().transitionStage(name, "1", "Production");
    await cycle();
    for (const mode of ["http503", "reset", "malformed"] as const) {
      proxy.setMode(mode);
      const outcome = await service.runCycle();
      proxy.setMode("pass");
      expect(outcome.ok).toBe(false);
      expect(await objectsOf(name)).toHaveLength(1);
    }
  });

  test("another owner's object is never touched, and a name it holds is a reported conflict", async () => {
    const name = `${fx.prefix} foreign`;
    await registerModel(name, 1);
    await mlflow().transitionStage(name, "1", "Production");
    const planned = (await service.runCycle({ dryRun: true })).report!.changes.find((c) => c.model === name)!;
    const body = (objectName: string) => ({
      apiVersion: target.apiVersion,
      kind: target.kind,
      metadata: { name: objectName, labels: { team: "other" } },
      spec:
        targetName === "kserve"
          ? { predictor: { model: { modelFormat: { name: "sklearn" }, storageUri: "s3://other/model" } } }
          : { storageUri: "s3://other/model", requirements: ["sklearn"] },
    });
    const create = (objectName: string) =>
      customObjects().createNamespacedCustomObject({
        group,
        version,
        plural: target.plural,
        namespace: fx.namespace,
        body: body(objectName),
      });
    await create(planned.name);
    await create("unrelated");
    const before = await listServingObjects(target, fx.namespace);

    const outcome = await service.runCycle();
    expect(outcome.report?.conflicts.map((c) => c.name)).toEqual([planned.name]);
    const after = await listServingObjects(target, fx.namespace);
    for (const objectName of [planned.name, "unrelated"])
      expect(writtenContent(after.find((o) => o.metadata.name === objectName))).toEqual(
        writtenContent(before.find((o) => o.metadata.name === objectName)),
      );
    await mlflow().transitionStage(name, "1", "Archived");
  });
});
