// MLflow's webhooks, end to end on the testbed: the service registers its webhook in the real
// MLflow server, which delivers signed events to the service's port. Full reads are an hour apart
// and the delta poll is off, so an alias move (which bumps nothing a poll could see) reaches the
// cluster only through a delivery. Forged, stale and repeated deliveries are refused.
import { createHmac, randomUUID } from "node:crypto";
import { freshNamespace, listSeldonDeployments, writtenContent } from "../support/cluster";
import { mlflow, registerModel, uniqueModelName } from "../support/mlflow";
import { eventually, freePort } from "../support/wait";
import { serviceEnv, startService, type RunningService } from "../support/service";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

const SECRET = `whsec-${randomUUID()}`;

let namespace: string;
let prefix: string;
let owner: string;
let service: RunningService;
let port: number;
const receiver = () => `http://127.0.0.1:${port}/webhooks/mlflow`;

const metric = (series: string) => service.metric(series);
const objectOf = async (model: string) =>
  (await listSeldonDeployments(namespace)).find(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === model,
  );

/** A delivery as MLflow sends it, signed with `secret` at `timestamp`. */
function deliver(
  model: string,
  options: { secret?: string; timestamp?: number; id?: string; body?: string; unsigned?: boolean } = {},
) {
  const id = options.id ?? randomUUID();
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const body =
    options.body ??
    JSON.stringify({
      entity: "model_version_alias",
      action: "created",
      timestamp: new Date().toISOString(),
      data: { name: model, alias: "champion", version: "1" },
    });
  const signature = `v1,${createHmac("sha256", options.secret ?? SECRET)
    .update(`${id}.${timestamp}.${body}`)
    .digest("base64")}`;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (!options.unsigned)
    Object.assign(headers, {
      "x-mlflow-delivery-id": id,
      "x-mlflow-timestamp": timestamp,
      "x-mlflow-signature": signature,
    });
  return fetch(receiver(), { method: "POST", headers, body });
}

beforeAll(async () => {
  namespace = await freshNamespace("webhooks");
  prefix = uniqueModelName("webhook model");
  owner = `hooks-${namespace}`;
  port = await freePort();
  service = await startService(
    serviceEnv(namespace, prefix, owner, {
      M2S_HTTP_PORT: String(port),
      M2S_SYNC_INTERVAL_SECONDS: "3600",
      M2S_DELTA_POLL_SECONDS: "0",
      M2S_WEBHOOK_SECRET: SECRET,
      M2S_WEBHOOK_URL: `http://127.0.0.1:${port}/webhooks/mlflow`,
    }),
  );
  // The testbed's MLflow caches its webhook list for 1 s.
  await new Promise((resolve) => setTimeout(resolve, 1500));
});

afterAll(async () => {
  await service?.stop();
  await mlflow().deleteWebhooksNamed(`mlflow2seldon-${owner}`);
});

test("the service registers its webhook in MLflow, and alias moves reach the cluster through deliveries", async () => {
  expect(await mlflow().listWebhooks()).toContainEqual(
    expect.objectContaining({ name: `mlflow2seldon-${owner}`, url: receiver() }),
  );
  expect(await metric("mlflow2seldon_webhook_registered")).toBe(1);

  const model = `${prefix} champion`;
  await registerModel(model, 2);
  await mlflow().setAlias(model, "champion", "1");
  await eventually("the object for @champion", () => objectOf(model));
  await mlflow().setAlias(model, "champion", "2");
  await eventually(
    "the alias move",
    async () => (await objectOf(model))?.metadata.labels[LABELS.version] === "2",
  );
  await mlflow().deleteAlias(model, "champion");
  await eventually("the alias deletion", async () => (await objectOf(model)) === undefined || undefined);

  expect(await metric('mlflow2seldon_cycles_total{result="success"}')).toBe(1);
  expect(await metric('mlflow2seldon_webhook_deliveries_total{result="202"}')).toBeGreaterThanOrEqual(3);
  expect(service.logs.join("\n")).not.toContain(SECRET);
});

test("unsigned, wrongly signed, stale, repeated and malformed deliveries are refused and change nothing", async () => {
  const model = `${prefix} guarded`;
  await registerModel(model, 1);
  await mlflow().setAlias(model, "champion", "1");
  const before = await eventually("the object", () => objectOf(model));
  const reads = () => metric('mlflow2seldon_mlflow_requests_total{endpoint="registered-models/get"}');
  const readsBefore = await reads();

  expect((await deliver(model, { unsigned: true })).status).toBe(401);
  expect((await deliver(model, { secret: "not-the-secret-at-all" })).status).toBe(401);
  expect((await deliver(model, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status).toBe(401);
  expect((await deliver(model, { body: "{not json" })).status).toBe(400);
  const id = randomUUID();
  expect((await deliver(model, { id })).status).toBe(202);
  expect((await deliver(model, { id })).status).toBe(409);

  // Once the accepted delivery's model has been read from MLflow again (the positive control),
  // the object is as it was.
  await eventually("the accepted delivery's read", async () => (await reads()) > readsBefore);
  expect(writtenContent(await objectOf(model))).toEqual(writtenContent(before));
});

test("a burst of deliveries for one model is read from MLflow at most once per wave, not once per delivery", async () => {
  const model = `${prefix} burst`;
  const accepted = () => metric('mlflow2seldon_webhook_deliveries_total{result="202"}');
  const reads = () => metric('mlflow2seldon_mlflow_requests_total{endpoint="registered-models/get"}');
  const acceptedBefore = await accepted();
  await registerModel(model, 1);
  await mlflow().setAlias(model, "champion", "1");
  await eventually("the object", () => objectOf(model));
  // MLflow's own deliveries for what was just done (the model, its version, the alias) have
  // arrived, and their reads are over, before the burst is counted.
  await eventually("MLflow's three deliveries", async () => (await accepted()) >= acceptedBefore + 3);
  let last = -1;
  await eventually(
    "their reads over (two readings half a second apart agree)",
    async () => {
      const [now, previous] = [await reads(), last];
      last = now;
      return now === previous;
    },
    20_000,
    500,
  );
  const before = await reads();
  // 30 deliveries in 5 waves of 6 (under the receiver's cap of concurrent deliveries, as MLflow's
  // delivery threads stay), each wave sent once the one before is answered. Deliveries coalesce
  // while their model's read is queued, so a wave starts at most one read: at most 5, not 30.
  // (Fewer when the waves outrun the reads, as they mostly do; a fast read between two waves
  // is no fault.)
  const waves = 5;
  const answers = [];
  for (let i = 0; i < waves; i++)
    answers.push(...(await Promise.all(Array.from({ length: 6 }, () => deliver(model)))));
  expect(answers.map((a) => a.status)).toEqual(Array(30).fill(202));
  await eventually("the burst's reconcile", async () => (await reads()) > before);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect((await reads()) - before).toBeGreaterThanOrEqual(1);
  expect((await reads()) - before).toBeLessThanOrEqual(waves);
});

test("a delivery naming a model MLflow says does not exist removes that model's objects", async () => {
  const model = `${prefix} deleted`;
  await registerModel(model, 1);
  await mlflow().setAlias(model, "champion", "1");
  await eventually("the object", () => objectOf(model));
  // MLflow sends no event for a model's deletion; any delivery naming it makes the service look.
  await mlflow().deleteRegisteredModel(model);
  expect((await deliver(model)).status).toBe(202);
  await eventually("the deletion", async () => (await objectOf(model)) === undefined || undefined);
});
