// The sync engine against the testbed: a real MLflow registry and a real kube-apiserver with the
// Seldon CRD. Each test shapes the registry through MLflow's REST API and checks the cluster.
import { MlflowClient } from "../../engine/registry/mlflow-client";
import { MODEL_TAGS } from "../../engine/plan/planner";
import {
  createForeignSeldonDeployment,
  customObjects,
  editObject,
  eventsRecordedFor,
  freshNamespace,
  listSeldonDeployments,
  seldon,
  writtenContent,
} from "../support/cluster";
import { FaultProxy } from "../support/fault-proxy";
import { eventually } from "../support/wait";
import { mlflow, mlflowUnderTest, mlflowUrl, registerModel } from "../support/mlflow";
import { createLogger } from "../../service/logger";
import { Scheduler } from "../../service/scheduler";
import {
  cycleOk,
  kubeWrites,
  mlflowRequests,
  requestsBetween,
  syncFixture,
  type SyncFixture,
} from "../support/sync";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

let fx: SyncFixture;
beforeAll(async () => {
  fx = syncFixture(await freshNamespace("engine"), "engine model");
});

const byModel = async (model: string) =>
  (await listSeldonDeployments(fx.namespace)).filter(
    (o) => o.metadata.annotations?.[ANNOTATIONS.modelName] === model,
  );
const container = (sdep: any) => sdep.spec.predictors[0].componentSpecs[0].spec.containers[0];

test("promote, promote a newer version, archive: created, updated in place, removed", async () => {
  const name = `${fx.prefix} lifecycle`;
  await registerModel(name, 2);
  const service = fx.service();
  const client = mlflow();

  await client.transitionStage(name, "1", "Production");
  await cycleOk(service);
  const [created] = await byModel(name);
  expect(created.metadata.labels).toMatchObject({
    [LABELS.managedBy]: "mlflow2seldon",
    [LABELS.owner]: fx.owner,
    [LABELS.version]: "1",
  });
  expect(created.metadata.annotations[ANNOTATIONS.slot]).toBe("stage:Production");
  expect(container(created).image).toBe("registry.example.com/mlflow-wrapper:1.0");
  expect(container(created).env).toContainEqual({
    name: "MODEL_PATH",
    value: expect.stringMatching(/^\/mnt\/mlflow\/registry-tests\/.+\/v1\/model$/),
  });

  await client.transitionStage(name, "2", "Production", true);
  await service.runCycle();
  const [updated] = await byModel(name);
  expect(updated.metadata.uid).toBe(created.metadata.uid);
  expect(updated.metadata.labels[LABELS.version]).toBe("2");

  await client.transitionStage(name, "2", "Archived");
  await service.runCycle();
  expect(await byModel(name)).toEqual([]);
});

test("a second cycle with no change writes nothing and reads one registry page", async () => {
  const name = `${fx.prefix} steady`;
  await registerModel(name, 1);
  await mlflow().transitionStage(name, "1", "Staging");
  const service = fx.service();
  await service.runCycle();
  const writes = await kubeWrites(service);
  const requests = await mlflowRequests(service);
  const outcome = await service.runCycle();
  expect(outcome.ok).toBe(true);
  expect(outcome.report?.changes).toEqual([]);
  expect(await kubeWrites(service)).toBe(writes);
  // Only the pages of the registry's listing: no version is looked up again.
  const sent = requestsBetween(requests, await mlflowRequests(service));
  expect(Object.keys(sent)).toEqual(["registered-models/search"]);
  expect(sent["registered-models/search"]).toBeGreaterThanOrEqual(1);
});

test("a fresh process takes served versions' locations from the live objects: a no-op costs the search pages", async () => {
  const name = `${fx.prefix} fresh`;
  await registerModel(name, 2);
  await mlflow().transitionStage(name, "1", "Production");
  await mlflow().setAlias(name, "champion", "2");
  const first = fx.service({ M2S_ALIASES: "champion" });
  await cycleOk(first);
  const cold = await mlflowRequests(first);
  await cycleOk(first);
  const searchPages = requestsBetween(cold, await mlflowRequests(first));
  expect(Object.keys(searchPages)).toEqual(["registered-models/search"]);
  // A new process (as `sync --once` in a CronJob): no version lookups, only the search pages.
  const fresh = fx.service({ M2S_ALIASES: "champion" });
  const outcome = await cycleOk(fresh);
  expect(outcome.report!.changes).toEqual([]);
  expect(await mlflowRequests(fresh)).toEqual(searchPages);
  // The first process's cold cycle looked the served versions up.
  expect(cold["model-versions/get-download-uri"]).toBeGreaterThanOrEqual(2);
});

test("sequential registry requests share kept-alive connections", async () => {
  for (let i = 0; i < 4; i++) await registerModel(`${fx.prefix} pooled ${i}`, 1);
  let [connections, requests] = [0, 0];
  // One model per page: as many requests as registered models, one after the other.
  const client = new MlflowClient(
    { ...mlflowUnderTest().admin, pageSize: 1 },
    { connection: () => connections++, request: () => requests++ },
  );
  await client.listRegisteredModels();
  expect(requests).toBeGreaterThan(3);
  expect(connections).toBeLessThanOrEqual(2);
});

test("aliases are followed when set and moved; the per-model image tag changes the image", async () => {
  const name = `${fx.prefix} aliased`;
  await registerModel(name, 2);
  const client = mlflow();
  const service = fx.service({ M2S_ALIASES: "champion", M2S_MLFLOW_DEPLOY_IMG_TAG: "deploy-image" });
  await client.setAlias(name, "champion", "1");
  await service.runCycle();
  let [sdep] = await byModel(name);
  expect(sdep.metadata.annotations[ANNOTATIONS.slot]).toBe("alias:champion");
  expect(sdep.metadata.labels[LABELS.version]).toBe("1");

  await client.setAlias(name, "champion", "2");
  await client.setRegisteredModelTag(name, "deploy-image", "registry.example.com/custom:2.0");
  await service.runCycle();
  [sdep] = await byModel(name);
  expect(sdep.metadata.labels[LABELS.version]).toBe("2");
  expect(container(sdep).image).toBe("registry.example.com/custom:2.0");

  await client.deleteAlias(name, "champion");
  await service.runCycle();
  expect(await byModel(name)).toEqual([]);
});

test("deleting the served version or the whole model removes its deployment", async () => {
  const client = mlflow();
  const service = fx.service();
  const versionGone = `${fx.prefix} version-deleted`;
  const modelGone = `${fx.prefix} model-deleted`;
  await registerModel(versionGone, 1);
  await registerModel(modelGone, 1);
  await client.transitionStage(versionGone, "1", "Production");
  await client.transitionStage(modelGone, "1", "Production");
  await service.runCycle();
  expect(await byModel(versionGone)).toHaveLength(1);
  expect(await byModel(modelGone)).toHaveLength(1);

  await client.deleteModelVersion(versionGone, "1");
  await client.deleteRegisteredModel(modelGone);
  await service.runCycle();
  expect(await byModel(versionGone)).toEqual([]);
  expect(await byModel(modelGone)).toEqual([]);
});

test("a hand edit is reverted; a foreign SeldonDeployment is never touched", async () => {
  const name = `${fx.prefix} drift`;
  await registerModel(name, 1);
  await mlflow().transitionStage(name, "1", "Production");
  const service = fx.service();
  await service.runCycle();
  const [sdep] = await byModel(name);

  const api = customObjects();
  await createForeignSeldonDeployment(fx.namespace, "someone-elses");
  const foreignBefore: any = await api.getNamespacedCustomObject({
    ...seldon,
    namespace: fx.namespace,
    name: "someone-elses",
  });

  await editObject(seldon, fx.namespace, sdep.metadata.name, (edited) => {
    edited.spec.predictors[0].replicas = 5;
  });
  const outcome = await service.runCycle();
  expect(outcome.report?.changes).toEqual([
    expect.objectContaining({ action: "update", name: sdep.metadata.name }),
  ]);
  const [reverted] = await byModel(name);
  expect(reverted.spec.predictors[0].replicas).toBe(1);

  await mlflow().transitionStage(name, "1", "Archived");
  await service.runCycle();
  const foreignAfter: any = await api.getNamespacedCustomObject({
    ...seldon,
    namespace: fx.namespace,
    name: "someone-elses",
  });
  expect(writtenContent(foreignAfter)).toEqual(writtenContent(foreignBefore));
});

test("a name held by a foreign object is reported as a conflict and left alone", async () => {
  const name = `${fx.prefix} squatted`;
  await registerModel(name, 1);
  await mlflow().transitionStage(name, "1", "Production");
  const service = fx.service();
  const dry = await service.runCycle({ dryRun: true });
  const target = dry.report!.changes[0].name;
  const api = customObjects();
  await createForeignSeldonDeployment(fx.namespace, target);
  const outcome = await service.runCycle();
  expect(outcome.ok).toBe(false);
  expect(outcome.report?.conflicts.map((c) => c.name)).toEqual([target]);
  const object: any = await api.getNamespacedCustomObject({
    ...seldon,
    namespace: fx.namespace,
    name: target,
  });
  expect(object.metadata.labels?.[LABELS.owner]).toBeUndefined();
  await api.deleteNamespacedCustomObject({ ...seldon, namespace: fx.namespace, name: target });
  await mlflow().transitionStage(name, "1", "Archived");
});

test("every page of the registry is read", async () => {
  const names = [1, 2, 3, 4, 5].map((i) => `${fx.prefix} paged ${i}`);
  for (const name of names) {
    await registerModel(name, 1);
    await mlflow().transitionStage(name, "1", "Production");
  }
  const service = fx.service({}, { pageSize: 2 });
  await service.runCycle();
  for (const name of names) expect(await byModel(name)).toHaveLength(1);
  for (const name of names) await mlflow().transitionStage(name, "1", "Archived");
  await service.runCycle();
});

test("the API server's rejection of one model is reported with its message; the others are applied", async () => {
  const bad = `${fx.prefix} rejected`;
  const good = `${fx.prefix} accepted`;
  await registerModel(bad, 1, { [MODEL_TAGS.resources]: '{"limits":{"cpu":"1xyz"}}' });
  await registerModel(good, 1);
  await mlflow().transitionStage(bad, "1", "Production");
  await mlflow().transitionStage(good, "1", "Production");
  const outcome = await fx.service().runCycle();
  expect(outcome.ok).toBe(false);
  expect(outcome.report?.failures).toEqual([
    expect.objectContaining({ action: "create", message: expect.stringContaining("HTTP 422") }),
  ]);
  expect(await byModel(good)).toHaveLength(1);
  // The refused write is a Warning Event naming the object (`kubectl get events` shows it).
  const [refused] = outcome.report!.failures;
  const [event] = await eventually("the refused write's Event", async () => {
    const items = await eventsRecordedFor(fx.namespace, { kind: "SeldonDeployment", name: refused.name });
    return items.length > 0 ? items : undefined;
  });
  expect(event).toMatchObject({
    type: "Warning",
    reason: "CreateFailed",
    message: expect.stringContaining("HTTP 422"),
  });
  await mlflow().transitionStage(bad, "1", "Archived");
  await mlflow().transitionStage(good, "1", "Archived");
  await fx.service().runCycle();
});

describe("MLflow failures never delete a running deployment", () => {
  let proxy: FaultProxy;
  let proxied: ReturnType<SyncFixture["service"]>;
  let scheduler: Scheduler;
  const name = () => `${fx.prefix} outage`;

  beforeAll(async () => {
    proxy = new FaultProxy(new URL(mlflowUrl()));
    const url = await proxy.start();
    // One page for the whole shared registry: the retry test counts requests.
    proxied = fx.service(
      { M2S_MLFLOW_HOST: url, M2S_MLFLOW_TIMEOUT_SECONDS: "1" },
      { backoffMs: 10, pageSize: 1000 },
    );
    scheduler = new Scheduler(proxied, createLogger("silent"));
    await registerModel(name(), 1);
    await mlflow().transitionStage(name(), "1", "Production");
    await cycleOk(proxied);
  });
  afterAll(() => proxy.stop());

  test.each(["reset", "http503", "malformed", "hang"] as const)(
    "%s: the cycle fails, counts it, backs off and deletes nothing",
    async (mode) => {
      await mlflow().transitionStage(name(), "1", "Archived");
      proxy.setMode(mode);
      const before = await kubeWrites(proxied);
      const outcome = await scheduler.fullRead();
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatch(/MLflow registered-models\/search/);
      expect(await kubeWrites(proxied)).toBe(before);
      expect(await byModel(name())).toHaveLength(1);
      expect(scheduler.nextDelayMs(() => 0.5)).toBeGreaterThan(proxied.config.intervalMs);
      const failures = await proxied.metrics.failures.get();
      expect(failures.values.find((v) => v.labels.stage === "registry")?.value).toBeGreaterThan(0);
      await mlflow().transitionStage(name(), "1", "Production");
      proxy.setMode("pass");
    },
  );

  test.each(["reset", "http503", "http429"] as const)(
    "%s on two requests, then answers: the client retries with backoff and the cycle succeeds",
    async (mode) => {
      const searches = async () => (await mlflowRequests(proxied))["registered-models/search"] ?? 0;
      // The same read without faults, for the number of requests it takes.
      const clean = await searches();
      expect((await scheduler.fullRead()).ok).toBe(true);
      const pages = (await searches()) - clean;
      const before = await searches();
      proxy.failNext(mode, 2);
      const outcome = await scheduler.fullRead();
      expect(outcome.ok).toBe(true);
      expect((await searches()) - before).toBe(pages + 2);
      expect(await byModel(name())).toHaveLength(1);
    },
  );

  test("when MLflow is back the service converges, and a legitimately emptied registry removes deployments", async () => {
    proxy.setMode("pass");
    await mlflow().transitionStage(name(), "1", "Archived");
    expect((await scheduler.fullRead()).ok).toBe(true);
    expect(await byModel(name())).toEqual([]);
    expect(scheduler.nextDelayMs(() => 0.5)).toBe(proxied.config.intervalMs);
  });
});

test("a restarted service deletes what left its stage while it was down", async () => {
  const name = `${fx.prefix} restart`;
  await registerModel(name, 1);
  await mlflow().transitionStage(name, "1", "Production");
  await fx.service().runCycle();
  expect(await byModel(name)).toHaveLength(1);
  await mlflow().transitionStage(name, "1", "Archived");
  await fx.service().runCycle();
  expect(await byModel(name)).toEqual([]);
});

describe("a field the engine applied and no longer wants is removed from the live object", () => {
  const spec = async (model: string) => (await byModel(model))[0].spec;
  const tagCases: [string, string, string, (s: any) => unknown][] = [
    [
      "resources tag",
      MODEL_TAGS.resources,
      '{"limits":{"cpu":"3"}}',
      (s) => container({ spec: s }).resources,
    ],
    ["image tag", "deployment-image", "registry.example.com/custom:2", (s) => container({ spec: s }).image],
    [
      "serving-mode tag",
      MODEL_TAGS.servingMode,
      "mlflow-server",
      (s) => s.predictors[0].graph.implementation,
    ],
    ["replicas tag", MODEL_TAGS.replicas, "4", (s) => s.predictors[0].replicas],
    ["protocol tag", MODEL_TAGS.protocol, "v2", (s) => s.protocol],
  ];
  test.each(tagCases)("%s set, then deleted", async (_name, tag, value, field) => {
    const name = `${fx.prefix} drift ${tag}`;
    await registerModel(name, 1);
    await mlflow().transitionStage(name, "1", "Production");
    // mlflow-server mode needs an object-store URI for the artifacts.
    const service = fx.service({ M2S_MODEL_URI_PREFIX: "s3://bucket/artifacts" });
    await cycleOk(service);
    const before = field(await spec(name));

    await mlflow().setRegisteredModelTag(name, tag, value);
    await cycleOk(service);
    const tagged = field(await spec(name));
    expect(tagged).not.toEqual(before);

    await mlflow().deleteRegisteredModelTag(name, tag);
    const outcome = await cycleOk(service);
    expect(outcome.report!.changes.map((c) => c.action)).toEqual(["update"]);
    expect(field(await spec(name))).toEqual(before);
    // Converged: the next cycle writes nothing.
    const writes = await kubeWrites(service);
    await cycleOk(service);
    expect(await kubeWrites(service)).toBe(writes);
  });

  const settingCases: [string, Record<string, string>, (s: any) => unknown][] = [
    [
      "storage claim",
      { M2S_MLFLOW_STORAGE_CLAIM: "mlflow-artifacts" },
      (s) => s.predictors[0].componentSpecs[0].spec.volumes,
    ],
    [
      "resources",
      { M2S_RESOURCES: '{"requests":{"memory":"1Gi"}}' },
      (s) => container({ spec: s }).resources,
    ],
    [
      "credentials secret",
      { M2S_SERVING_MODE: "mlflow-server", M2S_SELDON_CREDENTIALS_SECRET: "s3-creds" },
      (s) => s.predictors[0].graph.envSecretRefName,
    ],
  ];
  test.each(settingCases)("%s setting set, then unset", async (_name, env, field) => {
    const name = `${fx.prefix} drift setting ${Object.keys(env).join(" ")}`;
    await registerModel(name, 1);
    await mlflow().transitionStage(name, "1", "Production");
    const base = {
      M2S_MODEL_URI_PREFIX: "s3://bucket/artifacts",
      ...(env.M2S_SERVING_MODE ? { M2S_SERVING_MODE: env.M2S_SERVING_MODE } : {}),
    };
    await cycleOk(fx.service(base));
    const before = field(await spec(name));
    await cycleOk(fx.service({ ...base, ...env }));
    expect(field(await spec(name))).not.toEqual(before);
    await cycleOk(fx.service(base));
    expect(field(await spec(name))).toEqual(before);
  });
});

test("each create, update and delete leaves a Kubernetes Event on the object, as kubectl describe shows", async () => {
  const name = `${fx.prefix} events`;
  await registerModel(name, 2);
  const service = fx.service();
  await mlflow().transitionStage(name, "1", "Production");
  await cycleOk(service);
  const [object] = await byModel(name);
  await mlflow().transitionStage(name, "2", "Production", true);
  await cycleOk(service);
  await mlflow().transitionStage(name, "2", "Archived");
  await cycleOk(service);
  // kubectl describe selects the object's Events by kind, name, namespace and uid.
  const items = await eventsRecordedFor(fx.namespace, {
    kind: "SeldonDeployment",
    name: object.metadata.name,
    uid: object.metadata.uid,
  });
  // Event times have second precision: compare as a set.
  const seen = items.map((e) => [e.reason, e.type, e.message]);
  expect(seen).toHaveLength(3);
  expect(seen).toEqual(
    expect.arrayContaining([
      ["Created", "Normal", `serving ${name} version 1 (stage:Production)`],
      ["Updated", "Normal", `version 1 -> 2 of ${name} (stage:Production moved)`],
      [
        "Deleted",
        "Normal",
        `no longer served: ${name} version 2 (stage:Production) left its serving slot or the registry`,
      ],
    ]),
  );
});
