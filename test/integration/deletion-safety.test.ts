// Deletion under registry faults, with the real MLflow behind a loopback proxy that changes the
// registry between two page requests, filters or empties a listing, or refuses a read: a model
// still in the registry never loses its SeldonDeployment; a model MLflow confirms gone does; and
// one cycle deletes at most its cap. The same rule holds for the Pulumi program's snapshot.
import { customObjects, freshNamespace, listSeldonDeployments, seldon } from "../support/cluster";
import { eventually } from "../support/wait";
import { HttpFaultProxy, type ProxiedRequest, type ProxyAction } from "../support/http-proxy";
import { mlflow, mlflowUnderTest, mlflowUpstream, mlflowUrl, registerModel } from "../support/mlflow";
import {
  cycleOk,
  kubeWrites,
  mlflowRequests,
  requestsBetween,
  syncFixture,
  type SyncFixture,
} from "../support/sync";
import { ANNOTATIONS, LABELS } from "../../engine/vocabulary";
import { planModelDeployments } from "../../engine/snapshot";
import { PlanError } from "../../engine/errors";
import { statusRows } from "../../service/status";

let fx: SyncFixture;
let proxy: HttpFaultProxy;
let proxyUrl: string;
const PAGE_SIZE = 2;

const isSearch = (r: ProxiedRequest) => r.path.endsWith("/registered-models/search");
const isGet = (r: ProxiedRequest) => r.path.endsWith("/registered-models/get");
const pass: ProxyAction = { kind: "pass" };
type Listing = { registered_models?: { name: string }[] };

/**
 * As MLflow's authentication app answers once a permission is revoked: the model leaves the
 * search results and reading it answers 403.
 */
const permissionRevoked =
  (model: string) =>
  (r: ProxiedRequest): ProxyAction => {
    if (isSearch(r))
      return {
        kind: "rewrite",
        change: (json) => ({
          ...(json as Listing),
          registered_models: (json as Listing).registered_models?.filter((m) => m.name !== model),
        }),
      };
    if (isGet(r) && r.query.get("name") === model)
      return {
        kind: "respond",
        status: 403,
        body: { error_code: "PERMISSION_DENIED", message: "Permission denied" },
      };
    return pass;
  };

/** A search page passed on unchanged, its model names recorded in `listed`. */
const recordedIn = (listed: string[]): ProxyAction => ({
  kind: "rewrite",
  change: (json) => {
    listed.push(...((json as Listing).registered_models ?? []).map((m) => m.name));
    return json;
  },
});

/** Models of this file, each with version 1 in Production. */
const models = (...stems: string[]) => stems.map((s) => `${fx.prefix} ${s}`);

async function served(names: string[]) {
  for (const name of names) {
    await registerModel(name, 1);
    await mlflow().transitionStage(name, "1", "Production");
  }
}

/** This file's objects by the model they serve, with their uids. */
async function objectsByModel(): Promise<Map<string, string>> {
  const objects = await listSeldonDeployments(fx.namespace);
  return new Map(objects.map((o) => [o.metadata.annotations[ANNOTATIONS.modelName], o.metadata.uid]));
}

/** A service reading the registry through the proxy, two models per page. */
const proxiedService = (env: Record<string, string> = {}) =>
  fx.service({ M2S_MLFLOW_HOST: proxyUrl, ...env }, { pageSize: PAGE_SIZE, retries: 0 });

beforeAll(async () => {
  fx = syncFixture(await freshNamespace("deletion-safety"), "deletion safety");
  proxy = new HttpFaultProxy(mlflowUpstream());
  proxyUrl = await proxy.start();
  // The registry is shared by every test file: the listing is narrowed to this file's models, so
  // its pages hold them alone and a change between pages shifts exactly them.
  proxy.adjust = (url) => {
    if (url.pathname.endsWith("/registered-models/search") && !url.searchParams.has("filter"))
      url.searchParams.set("filter", `name LIKE '${fx.prefix}%'`);
  };
});

afterEach(async () => {
  proxy.decide = () => pass;
  // Each test starts from an empty registry and namespace of its own models.
  for (const m of await mlflow().listRegisteredModels())
    if (m.name.startsWith(fx.prefix)) await mlflow().deleteRegisteredModel(m.name);
  await cycleOk(fx.service({ M2S_MAX_DELETIONS: "100" }));
  expect(await listSeldonDeployments(fx.namespace)).toEqual([]);
});

afterAll(() => proxy.stop());

test("a model deleted between two page requests shifts the next one out of every page: it is read directly and kept", async () => {
  const [a0, a1, a2, a3, a4, a5] = models("a0", "a1", "a2", "a3", "a4", "a5");
  await served([a0, a1, a2, a3, a4, a5]);
  const service = proxiedService();
  await cycleOk(service);
  const before = await objectsByModel();
  expect(before.size).toBe(6);

  const listed: string[] = [];
  let deleted = false;
  proxy.decide = async (r) => {
    if (!isSearch(r)) return pass;
    if (r.query.get("page_token") && !deleted) {
      deleted = true;
      await mlflow().deleteRegisteredModel(a0);
    }
    return recordedIn(listed);
  };
  const requests = await mlflowRequests(service);
  const outcome = await cycleOk(service);
  // The fault happened: a2 was in no page (and a0 in the first, before it was deleted).
  expect(deleted).toBe(true);
  expect(listed).toEqual([a0, a1, a3, a4, a5]);
  // The missing model was read directly, found, and kept.
  expect(requestsBetween(requests, await mlflowRequests(service))["registered-models/get"]).toBe(1);
  expect(outcome.report!.changes).toEqual([]);
  const after = await objectsByModel();
  for (const model of [a0, a1, a2, a3, a4, a5]) expect(after.get(model)).toBe(before.get(model));
  // The next cycle misses a0, and MLflow confirms it is gone: only its object goes.
  proxy.decide = () => pass;
  const next = await cycleOk(service);
  expect(next.report!.changes.map((c) => [c.action, c.model])).toEqual([["delete", a0]]);
  expect([...(await objectsByModel()).keys()].sort()).toEqual([a1, a2, a3, a4, a5]);
});

test("a model created between two page requests is returned twice and counted once", async () => {
  const [a0, a1, a2, a3] = models("a0", "a1", "a2", "a3");
  await served([a0, a1, a2, a3]);
  const service = proxiedService();
  await cycleOk(service);
  const listed: string[] = [];
  let created = false;
  proxy.decide = async (r) => {
    if (!isSearch(r)) return pass;
    if (r.query.get("page_token") && !created) {
      created = true;
      await mlflow().createRegisteredModel(`${fx.prefix} a00`);
    }
    return recordedIn(listed);
  };
  const writes = await kubeWrites(service);
  const outcome = await cycleOk(service);
  expect(listed.filter((name) => name === a1)).toHaveLength(2);
  expect(outcome.report!.changes).toEqual([]);
  expect(outcome.report!.unchanged.map((u) => u.model).sort()).toEqual([a0, a1, a2, a3]);
  expect(await kubeWrites(service)).toBe(writes);
});

test("a listing page refused (403) fails the cycle before anything is written", async () => {
  const names = models("b0", "b1", "b2", "b3");
  await served(names);
  const service = proxiedService();
  await cycleOk(service);
  await mlflow().transitionStage(names[0], "1", "Archived");
  proxy.decide = (r) =>
    isSearch(r) && r.query.get("page_token")
      ? { kind: "respond", status: 403, body: { error_code: "PERMISSION_DENIED", message: "no" } }
      : pass;
  const writes = await kubeWrites(service);
  const outcome = await service.runCycle();
  expect(outcome).toMatchObject({ ok: false, stage: "registry" });
  expect(outcome.error).toMatch(/registered-models\/search: HTTP 403 PERMISSION_DENIED/);
  expect(await kubeWrites(service)).toBe(writes);
  expect((await objectsByModel()).size).toBe(4);
});

test("an empty 200 listing ({}) has every served model read directly: only the one MLflow says is gone loses its object", async () => {
  const [c0, c1, c2] = models("c0", "c1", "c2");
  await served([c0, c1, c2]);
  const service = proxiedService();
  await cycleOk(service);
  const before = await objectsByModel();
  await mlflow().deleteRegisteredModel(c1);
  proxy.decide = (r) => (isSearch(r) ? { kind: "respond", status: 200, body: {} } : pass);
  const requests = await mlflowRequests(service);
  const outcome = await cycleOk(service);
  expect(requestsBetween(requests, await mlflowRequests(service))["registered-models/get"]).toBe(3);
  expect(outcome.report!.changes.map((c) => [c.action, c.model])).toEqual([["delete", c1]]);
  const after = await objectsByModel();
  expect([...after.keys()].sort()).toEqual([c0, c2]);
  expect(after.get(c0)).toBe(before.get(c0));
});

test("a model hidden from the listing whose direct read is refused (403) keeps its object, reported as withheld", async () => {
  const [d0, d1] = models("d0", "d1");
  await served([d0, d1]);
  const service = proxiedService();
  await cycleOk(service);
  const uid = (await objectsByModel()).get(d1);
  proxy.decide = permissionRevoked(d1);
  const outcome = await service.runCycle();
  expect(outcome.ok).toBe(false);
  expect(outcome.report!.changes).toEqual([]);
  expect(outcome.report!.withheld).toEqual([
    expect.objectContaining({
      model: d1,
      cause: "unconfirmed",
      reason: expect.stringContaining("HTTP 403 PERMISSION_DENIED"),
    }),
  ]);
  expect((await objectsByModel()).get(d1)).toBe(uid);
  const withheld = await service.metrics.deletionsWithheld.get();
  expect(withheld.values.find((v) => v.labels.cause === "unconfirmed")?.value).toBe(1);
  // What `status` and the status page show for it.
  const dryRun = await service.runCycle({ dryRun: true });
  expect(statusRows(dryRun.report!, { applied: false })).toContainEqual(
    expect.objectContaining({ model: d1, state: "withheld", served: "1" }),
  );
  expect(service.statusPage().rows).toContainEqual(expect.objectContaining({ model: d1, state: "withheld" }));
});

test("more deletions than the cap in one cycle: none is made until the cap allows them all", async () => {
  const names = models("e0", "e1", "e2", "e3");
  await served(names);
  await cycleOk(fx.service());
  for (const name of names.slice(0, 3)) await mlflow().transitionStage(name, "1", "Archived");
  const capped = fx.service({ M2S_MAX_DELETIONS: "2" });
  const outcome = await capped.runCycle();
  expect(outcome.ok).toBe(false);
  expect(outcome.report!.changes).toEqual([]);
  expect(outcome.report!.withheld.map((w) => [w.model, w.cause]).sort()).toEqual(
    names.slice(0, 3).map((n) => [n, "cap"]),
  );
  expect((await objectsByModel()).size).toBe(4);
  const allowed = await cycleOk(fx.service({ M2S_MAX_DELETIONS: "3" }));
  expect(allowed.report!.changes.map((c) => c.action)).toEqual(["delete", "delete", "delete"]);
  expect([...(await objectsByModel()).keys()]).toEqual([names[3]]);
});

/** Sets (or, with none, removes) finalizers on a SeldonDeployment, as a serving system's controller does. */
const setFinalizers = (name: string, finalizers?: string[]) =>
  customObjects().patchNamespacedCustomObject({
    ...seldon,
    namespace: fx.namespace,
    name,
    body: [
      finalizers
        ? { op: "add", path: "/metadata/finalizers", value: finalizers }
        : { op: "remove", path: "/metadata/finalizers" },
    ],
  });

test("an object a finalizer holds after its deletion is not deleted again, nor written while it goes; once gone it is created again", async () => {
  const [name] = models("f0");
  await served([name]);
  await cycleOk(fx.service());
  const [object] = await listSeldonDeployments(fx.namespace);
  // KServe's controller holds its InferenceServices like this until it has cleaned up.
  await setFinalizers(object.metadata.name, ["serving.example.io/cleanup"]);
  await mlflow().transitionStage(name, "1", "Archived");
  const service = fx.service();
  expect((await cycleOk(service)).report!.changes.map((c) => c.action)).toEqual(["delete"]);
  const [terminating] = await listSeldonDeployments(fx.namespace);
  expect(terminating.metadata.deletionTimestamp).toBeDefined();

  const writes = await kubeWrites(service);
  expect((await cycleOk(service)).report!.changes).toEqual([]);
  // Promoted again while the object is still going: reported, nothing written.
  await mlflow().transitionStage(name, "1", "Production");
  const pending = await service.runCycle();
  expect(pending.ok).toBe(false);
  expect(pending.report!.failures.map((f) => f.message)).toEqual([
    expect.stringContaining("is still being deleted"),
  ]);
  expect(await kubeWrites(service)).toBe(writes);

  await setFinalizers(object.metadata.name);
  await eventually(
    "the object to be gone",
    async () => (await listSeldonDeployments(fx.namespace)).length === 0,
  );
  expect((await cycleOk(service)).report!.changes.map((c) => c.action)).toEqual(["create"]);
  const [recreated] = await listSeldonDeployments(fx.namespace);
  expect(recreated.metadata.uid).not.toBe(object.metadata.uid);
});

test("the Pulumi snapshot: a confirmed absence plans the deletion, an unconfirmed one stops the run naming the model", async () => {
  const [f0, f1, f2] = models("f0", "f1", "f2");
  await served([f0, f1, f2]);
  await cycleOk(fx.service());
  const known = await listSeldonDeployments(fx.namespace);
  const settings = {
    namespace: fx.namespace,
    owner: fx.owner,
    defaultImage: "registry.example.com/mlflow-wrapper:1.0",
    includeModels: [`${fx.prefix}*`],
    ...mlflowUnderTest().engineSettings,
  };
  await mlflow().deleteRegisteredModel(f0);
  proxy.decide = permissionRevoked(f1);
  const planning = planModelDeployments(
    { ...mlflowUnderTest().admin, url: proxyUrl, pageSize: PAGE_SIZE, retries: 0 },
    settings,
    {
      known,
    },
  );
  await expect(planning).rejects.toThrow(PlanError);
  await expect(planning).rejects.toThrow(
    new RegExp(`${f1} \\(every slot\\): missing from the registry listing.*HTTP 403`),
  );
  proxy.decide = () => pass;
  const planned = await planModelDeployments(
    { ...mlflowUnderTest().admin, url: proxyUrl, pageSize: PAGE_SIZE },
    settings,
    { known },
  );
  expect(planned.map((p) => p.model).sort()).toEqual([f1, f2]);
});

test("two installs with default owners, reading different MLflow servers into one namespace, leave each other alone", async () => {
  const otherMlflow = process.env.M2S_TESTBED_MLFLOW2_URI!;
  const [here, there] = models("g-here", "g-there");
  await served([here]);
  await mlflow(otherMlflow).createRegisteredModel(there);
  // Under the artifact root both installs are given (the MLflow under test's).
  await mlflow(otherMlflow).createModelVersion(
    there,
    `${mlflowUnderTest().sourceRoot}/registry-tests/there/v1/model`,
  );
  await mlflow(otherMlflow).transitionStage(there, "1", "Production");
  // As two Deployments in two namespaces run them: no M2S_OWNER, the pod's namespace from the downward API.
  const install = (mlflowUrl: string, podNamespace: string) =>
    fx.service({ M2S_MLFLOW_HOST: mlflowUrl, M2S_OWNER: undefined, POD_NAMESPACE: podNamespace });
  const first = install(mlflowUrl(), "ml-team-a");
  const second = install(otherMlflow, "ml-team-b");
  expect([first.config.engine.owner, second.config.engine.owner]).toEqual([
    "service-ml-team-a",
    "service-ml-team-b",
  ]);
  try {
    for (let round = 0; round < 2; round++) {
      await cycleOk(first);
      await cycleOk(second);
    }
    const objects = await listSeldonDeployments(fx.namespace);
    expect(
      objects
        .map((o) => [o.metadata.annotations[ANNOTATIONS.modelName], o.metadata.labels[LABELS.owner]])
        .sort(),
    ).toEqual([
      [here, "service-ml-team-a"],
      [there, "service-ml-team-b"],
    ]);
  } finally {
    await mlflow(otherMlflow).deleteRegisteredModel(there);
    await mlflow().deleteRegisteredModel(here);
    await cycleOk(second);
    await cycleOk(first);
  }
});
