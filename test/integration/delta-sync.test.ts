// The fast paths as a user runs the service: full reads an hour apart, so every change below
// reaches the cluster through the poll of the most recently updated models, reconciled on their
// own, or through the watch of the owned objects; an MLflow outage during the polls deletes nothing.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { customObjects, editObject, freshNamespace, listSeldonDeployments, seldon } from "../support/cluster";
import { FaultProxy } from "../support/fault-proxy";
import { mlflow, mlflowUrl, registerModel, uniqueModelName } from "../support/mlflow";
import { eventually, freePort } from "../support/wait";
import { serviceBin, serviceEnv, metricValue } from "../support/service";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

/** Polls `check` every 100 ms for up to 20 s. */

let namespace: string;
let prefix: string;
let proxy: FaultProxy;
let child: ChildProcess;
let port: number;

const metric = (series: string) => metricValue(port, series);
const objectOf = async (model: string) =>
  (await listSeldonDeployments(namespace)).find(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === model,
  );

beforeAll(async () => {
  namespace = await freshNamespace("delta");
  prefix = uniqueModelName("delta model");
  proxy = new FaultProxy(new URL(mlflowUrl()));
  const proxied = await proxy.start();
  port = await freePort();
  child = spawn(process.execPath, [serviceBin, "sync"], {
    env: serviceEnv(namespace, prefix, "delta", {
      M2S_MLFLOW_HOST: proxied,
      M2S_HTTP_PORT: String(port),
      M2S_SYNC_INTERVAL_SECONDS: "3600",
      M2S_DELTA_POLL_SECONDS: "0.2",
      M2S_MLFLOW_TIMEOUT_SECONDS: "2",
    }),
    stdio: "ignore",
  });
  await eventually("the first full cycle", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
});

afterAll(async () => {
  child?.kill("SIGTERM");
  if (child) await once(child, "exit");
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

test("with M2S_WATCH=false nothing is watched: a hand edit is repaired by the next full read", async () => {
  // A service of its own (another owner, a model outside the first one's patterns), full reads
  // every 2 s, no delta poll.
  const model = uniqueModelName("unwatched model");
  await registerModel(model, 1);
  await mlflow().transitionStage(model, "1", "Production");
  const unwatchedPort = await freePort();
  const unwatched = spawn(process.execPath, [serviceBin, "sync"], {
    env: serviceEnv(namespace, model, "unwatched", {
      M2S_HTTP_PORT: String(unwatchedPort),
      M2S_SYNC_INTERVAL_SECONDS: "2",
      M2S_DELTA_POLL_SECONDS: "0",
      M2S_WATCH: "false",
    }),
    stdio: "ignore",
  });
  const value = (series: string) => metricValue(unwatchedPort, series);
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
    // Repaired by a full read (a cycle finished since the edit), with no watch ever opened.
    expect(await value('mlflow2seldon_cycles_total{result="success"}')).toBeGreaterThan(cycles);
    expect(await value('mlflow2seldon_kube_requests_total{verb="watch"}')).toBe(0);
    expect(await value('mlflow2seldon_kube_requests_total{verb="list"}')).toBeGreaterThan(0);
  } finally {
    unwatched.kill("SIGTERM");
    if (unwatched.exitCode === null) await once(unwatched, "exit");
  }
});
