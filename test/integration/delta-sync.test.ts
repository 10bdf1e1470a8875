// The fast paths as a user runs the service: full reads an hour apart, so every change below
// reaches the cluster through the poll of the most recently updated models, reconciled on their
// own, or through the watch of the owned objects; an MLflow outage during the polls deletes nothing.
import {
  adminUpstream,
  customObjects,
  editObject,
  freshNamespace,
  kubeconfigVia,
  listSeldonDeployments,
  seldon,
} from "../support/cluster";
import { FaultProxy } from "../support/fault-proxy";
import { HttpFaultProxy } from "../support/http-proxy";
import { mlflow, mlflowUrl, registerModel, uniqueModelName } from "../support/mlflow";
import { eventually } from "../support/wait";
import { serviceEnv, startService, type RunningService } from "../support/service";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

let namespace: string;
let prefix: string;
let proxy: FaultProxy;
let service: RunningService;

const metric = (series: string) => service.metric(series);
const objectOf = async (model: string) =>
  (await listSeldonDeployments(namespace)).find(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === model,
  );

beforeAll(async () => {
  namespace = await freshNamespace("delta");
  prefix = uniqueModelName("delta model");
  proxy = new FaultProxy(new URL(mlflowUrl()));
  const proxied = await proxy.start();
  service = await startService(
    serviceEnv(namespace, prefix, "delta", {
      M2S_MLFLOW_HOST: proxied,
      M2S_SYNC_INTERVAL_SECONDS: "3600",
      M2S_DELTA_POLL_SECONDS: "0.2",
      M2S_MLFLOW_TIMEOUT_SECONDS: "2",
    }),
  );
});

afterAll(async () => {
  await service?.stop();
  await proxy?.stop();
});

test("a promotion, a new model and an archive reach the cluster without a full read", async () => {
  const steady = `${prefix} steady`;
  await registerModel(steady, 2);
  await mlflow().transitionStage(steady, "1", "Production");
  await eventually("the new model's object", () => objectOf(steady));

  await mlflow().transitionStage(steady, "2", "Production", true);
  await eventually(
    "the promotion",
    async () => (await objectOf(steady))?.metadata.labels[LABELS.version] === "2",
  );

  await mlflow().transitionStage(steady, "2", "Archived");
  await eventually("the archive", async () => (await objectOf(steady)) === undefined || undefined);

  // Only the start-up's full read ran; the polls did the rest, and the watch took none of the
  // service's own writes for someone else's edit.
  expect(await metric('mlflow2seldon_cycles_total{result="success"}')).toBe(1);
  expect(await metric('mlflow2seldon_delta_polls_total{result="changed"}')).toBeGreaterThanOrEqual(3);
  expect(await metric("mlflow2seldon_drift_detected_total")).toBe(0);
});

test("without webhooks, an alias move (which updates nothing the delta poll sees) arrives by the rolling read of the registry", async () => {
  const model = `${prefix} aliased`;
  await registerModel(model, 2);
  await mlflow().setAlias(model, "champion", "1");
  await eventually(
    "the champion's object",
    async () => (await objectOf(model))?.metadata.labels[LABELS.version] === "1",
  );
  const fullReads = await metric('mlflow2seldon_cycles_total{result="success"}');
  const updated = (await mlflow().getRegisteredModel(model))!.last_updated_timestamp;

  await mlflow().setAlias(model, "champion", "2");
  // The positive control: MLflow did not update the model, so the recent changes do not show it.
  expect((await mlflow().getRegisteredModel(model))!.last_updated_timestamp).toBe(updated);
  await eventually(
    "the alias move served",
    async () => (await objectOf(model))?.metadata.labels[LABELS.version] === "2",
  );
  // Neither a full read nor a delivery: the rolling read queued the model, as a delivery would.
  expect(await metric('mlflow2seldon_cycles_total{result="success"}')).toBe(fullReads);
  expect(await metric('mlflow2seldon_webhook_deliveries_total{result="202"}')).toBe(0);
});

test("while MLflow fails, the polls fail and nothing is deleted; afterwards they catch up", async () => {
  const served = `${prefix} served`;
  await registerModel(served, 2);
  await mlflow().transitionStage(served, "1", "Production");
  const before = await eventually("the object", () => objectOf(served));

  const failures = await metric('mlflow2seldon_delta_polls_total{result="failure"}');
  for (const mode of ["http503", "malformed"] as const) {
    proxy.setMode(mode);
    await eventually(
      `failing polls (${mode})`,
      async () => (await metric('mlflow2seldon_delta_polls_total{result="failure"}')) > failures || undefined,
    );
  }
  proxy.setMode("pass");
  expect((await objectOf(served))?.metadata.uid).toBe(before.metadata.uid);

  await mlflow().transitionStage(served, "2", "Production", true);
  await eventually(
    "the promotion after the outage",
    async () => (await objectOf(served))?.metadata.labels[LABELS.version] === "2",
  );
});

test("a hand edit and a hand deletion are repaired through the watch; a status update is left alone", async () => {
  const edited = `${prefix} edited`;
  await registerModel(edited, 1);
  await mlflow().transitionStage(edited, "1", "Production");
  const original = await eventually("the object", () => objectOf(edited));
  const name = original.metadata.name;

  // A serving controller writing status is not drift; a spec edit is. The watch delivers events
  // in order, so once the edit is repaired the status write was seen before it: drift counts the
  // edit alone.
  const drift = () => metric("mlflow2seldon_drift_detected_total");
  const driftBefore = await drift();
  await editObject(seldon, namespace, name, (object) => (object.status = { state: "Available" }), {
    status: true,
  });
  await editObject(seldon, namespace, name, (current) => {
    current.spec.predictors[0].replicas = 7;
  });
  await eventually(
    "the edit repaired",
    async () => (await objectOf(edited))?.spec.predictors[0].replicas === 1,
  );
  expect(await drift()).toBe(driftBefore + 1);

  await customObjects().deleteNamespacedCustomObject({ ...seldon, namespace, name });
  const recreated = await eventually("the deletion repaired", async () => {
    const object = await objectOf(edited);
    return object && object.metadata.uid !== original.metadata.uid && object;
  });
  expect(recreated.metadata.name).toBe(name);
  expect(await drift()).toBe(driftBefore + 2);
  expect(await metric('mlflow2seldon_cycles_total{result="success"}')).toBe(1);
});

test("more changed models than one poll can tell (a page of 25, all changed): a full read at once", async () => {
  const fullReads = () => metric('mlflow2seldon_cycles_total{result="success"}');
  const polls = (result: string) => metric(`mlflow2seldon_delta_polls_total{result="${result}"}`);
  const [fullReadsBefore, overflowsBefore] = [await fullReads(), await polls("overflow")];
  // While MLflow answers the service 503, 26 models are promoted: the first poll that gets
  // through finds its whole page changed.
  proxy.setMode("http503");
  const failuresBefore = await polls("failure");
  const batch = Array.from({ length: 26 }, (_, i) => `${prefix} batch ${i}`);
  for (const model of batch) {
    await registerModel(model, 1);
    await mlflow().transitionStage(model, "1", "Production");
  }
  await eventually("a poll failing after the batch", async () => (await polls("failure")) > failuresBefore);
  proxy.setMode("pass");
  await eventually("every model of the batch served", async () => {
    const served = await listSeldonDeployments(namespace);
    return batch.every((model) =>
      served.some((o) => o.metadata.annotations[ANNOTATIONS.modelName] === model),
    );
  });
  // The rolling read may queue the batch first; the full read the overflow started ends after.
  await eventually("the full read", async () => (await fullReads()) > fullReadsBefore);
  expect(await polls("overflow")).toBe(overflowsBefore + 1);
  expect(await fullReads()).toBe(fullReadsBefore + 1);
});

test("with M2S_WATCH=false nothing is watched: a hand edit is repaired by the next full read", async () => {
  // A service of its own (another owner, a model outside the first one's patterns), full reads
  // every 2 s, no delta poll.
  const model = uniqueModelName("unwatched model");
  await registerModel(model, 1);
  await mlflow().transitionStage(model, "1", "Production");
  const unwatched = await startService(
    serviceEnv(namespace, model, "unwatched", {
      M2S_SYNC_INTERVAL_SECONDS: "2",
      M2S_DELTA_POLL_SECONDS: "0",
      M2S_WATCH: "false",
    }),
    { ready: "none" },
  );
  const value = (series: string) => unwatched.metric(series);
  try {
    const original = await eventually("the object", () => objectOf(model));
    await editObject(seldon, namespace, original.metadata.name, (current) => {
      current.spec.predictors[0].replicas = 7;
    });
    const cycles = await value('mlflow2seldon_cycles_total{result="success"}');
    await eventually(
      "the edit repaired",
      async () => (await objectOf(model))?.spec.predictors[0].replicas === 1,
    );
    // Repaired by a full read, with no watch ever opened. The repairing cycle counts itself only
    // after its writes, so its count may land a moment after the repair is visible.
    await eventually(
      "the repairing full read counted",
      async () => (await value('mlflow2seldon_cycles_total{result="success"}')) > cycles,
    );
    expect(await value('mlflow2seldon_kube_requests_total{verb="watch"}')).toBe(0);
    expect(await value('mlflow2seldon_kube_requests_total{verb="list"}')).toBeGreaterThan(0);
  } finally {
    await unwatched.stop();
  }
});

test("a resume point the API server no longer has (410): the watch lists again and repairs an edit made while it was away", async () => {
  const model = uniqueModelName("relisted model");
  await registerModel(model, 1);
  await mlflow().transitionStage(model, "1", "Production");
  // The service reaches the API server through a proxy that holds its watch (a stalled network);
  // when the watch reconnects, the proxy asks for a resume point long compacted away, as a
  // watch does that was away too long, and the real API server answers 410.
  const api = new HttpFaultProxy(adminUpstream());
  const url = await api.start();
  const watches: string[] = [];
  let stalled = true;
  api.decide = (r) => {
    if (r.query.get("watch") !== "true") return { kind: "pass" };
    watches.push(r.query.get("resourceVersion") ?? "");
    return stalled ? { kind: "hold" } : { kind: "pass" };
  };
  let expire = false;
  api.adjust = (target) => {
    if (expire && target.searchParams.get("watch") === "true") {
      target.searchParams.set("resourceVersion", "1");
      expire = false;
    }
  };
  const relisting = await startService({
    ...serviceEnv(namespace, model, "relist", {
      M2S_SYNC_INTERVAL_SECONDS: "3600",
      M2S_DELTA_POLL_SECONDS: "0",
    }),
    KUBECONFIG: kubeconfigVia(url),
  });
  try {
    const original = await eventually("the object", () => objectOf(model));
    await eventually("the watch opened (and held)", async () => watches.length === 1);
    await editObject(seldon, namespace, original.metadata.name, (current) => {
      current.spec.predictors[0].replicas = 7;
    });
    stalled = false;
    expire = true;
    api.cut();
    await eventually(
      "the edit repaired",
      async () => (await objectOf(model))?.spec.predictors[0].replicas === 1,
    );
    // The reconnect met a 410 and the service listed again: the relist found the edit, not a
    // full read (there was one, at start) and not a watch event.
    expect(relisting.logs.filter((line) => line.includes("resume point has expired (410)"))).toHaveLength(1);
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(await relisting.metric('mlflow2seldon_cycles_total{result="success"}')).toBe(1);
    expect(await relisting.metric("mlflow2seldon_drift_detected_total")).toBe(1);
    expect(await relisting.metric('mlflow2seldon_kube_requests_total{verb="list"}')).toBeGreaterThanOrEqual(
      2,
    );
  } finally {
    await relisting.stop();
    await api.stop();
  }
});
