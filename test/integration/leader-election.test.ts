// Two replicas of the service on one Lease, as the component runs them: one leads and writes, the
// other stays ready and writes nothing; killed (SIGKILL), the leader is replaced within the lease
// duration; stopped (SIGTERM), it releases the lease and the standby takes over at once.
import { CoordinationV1Api } from "@kubernetes/client-node";
import { freshNamespace, kubeConfig, listSeldonDeployments } from "../support/cluster";
import { mlflow, registerModel, uniqueModelName } from "../support/mlflow";
import { eventually, freePort } from "../support/wait";
import { serviceEnv, startService, type RunningService } from "../support/service";
import { LABELS, ANNOTATIONS } from "../../engine/vocabulary";

const LEASE_SECONDS = 4;

type Replica = RunningService & { name: string };

let namespace: string;
let prefix: string;
/** The webhook URL every replica is given, as a Service's would be (nothing listens there). */
let webhookUrl: string;
const replicas: Replica[] = [];

async function start(name: string): Promise<Replica> {
  const replica = Object.assign(
    await startService(
      serviceEnv(namespace, prefix, "replicas", {
        M2S_SYNC_INTERVAL_SECONDS: "1",
        M2S_LEADER_ELECTION: "true",
        M2S_LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
        M2S_RENEW_DEADLINE_SECONDS: "3",
        M2S_RETRY_PERIOD_SECONDS: "0.5",
        POD_NAME: name,
        M2S_WEBHOOK_SECRET: "replica-webhook-secret-0123456789",
        M2S_WEBHOOK_URL: webhookUrl,
      }),
      { ready: "/healthz" },
    ),
    { name },
  );
  replicas.push(replica);
  return replica;
}

/** The Lease's holder as the API server has it. */
const holder = async () =>
  (
    await kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: "mlflow2seldon-replicas", namespace })
  ).spec?.holderIdentity ?? undefined;

const leads = async (r: Replica) => (await r.metric("mlflow2seldon_leader")) === 1;
const writes = (r: Replica) => r.metric('mlflow2seldon_kube_requests_total{verb="apply"}');
const alive = () => replicas.filter((r) => r.alive());

async function theLeader(): Promise<Replica> {
  return eventually("one leader", async () => {
    const leading = [];
    for (const r of alive()) if (await leads(r).catch(() => false)) leading.push(r);
    return leading.length === 1 && leading[0];
  });
}

const versionServed = async (model: string) =>
  (await listSeldonDeployments(namespace)).find(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === model,
  )?.metadata.labels[LABELS.version];

beforeAll(async () => {
  namespace = await freshNamespace("replicas");
  prefix = uniqueModelName("replica model");
  webhookUrl = `http://127.0.0.1:${await freePort()}/webhooks/mlflow`;
});

afterAll(async () => {
  for (const r of alive()) await r.stop();
  await mlflow().deleteWebhooksNamed("mlflow2seldon-replicas");
  for (const m of await mlflow().listRegisteredModels())
    if (m.name.startsWith(prefix)) await mlflow().deleteRegisteredModel(m.name);
});

test("one replica leads and writes, the other stays ready and writes nothing; SIGKILL, then SIGTERM, hand over", async () => {
  await start("replica-a");
  await start("replica-b");
  const model = `${prefix} served`;
  await registerModel(model, 3);
  await mlflow().transitionStage(model, "1", "Production");

  const first = await theLeader();
  const standby = alive().find((r) => r !== first)!;
  await eventually("the object", async () => (await versionServed(model)) === "1");
  // Only the leader registers the webhook: one in MLflow, not one per replica.
  const registered = async () =>
    (await mlflow().listWebhooks()).filter(
      (w) => w.name === "mlflow2seldon-replicas" && w.url === webhookUrl,
    );
  await eventually("the leader's webhook", async () => (await registered()).length > 0);
  // The positive control: the standby is up and ready, so it would have registered by now.
  await eventually(
    "the standby ready",
    async () => (await fetch(`http://127.0.0.1:${standby.port}/readyz`)).ok,
  );
  expect(await registered()).toHaveLength(1);
  expect(await writes(first)).toBeGreaterThan(0);
  expect(await writes(standby)).toBe(0);
  expect((await fetch(`http://127.0.0.1:${standby.port}/readyz`)).status).toBe(200);
  // Deliveries to a standby are refused so that MLflow retries them (a retry may reach the leader).
  const delivery = await fetch(`http://127.0.0.1:${standby.port}/webhooks/mlflow`, {
    method: "POST",
    body: "{}",
  });
  expect(delivery.status).toBe(503);
  expect(delivery.headers.get("retry-after")).toBe("1");

  // A killed leader cannot release: the standby takes over once the lease has not been renewed
  // for its duration, and applies the next promotion.
  await first.stop("SIGKILL");
  expect(await holder()).toBe(first.name);
  await mlflow().transitionStage(model, "2", "Production", true);
  await eventually("the promotion by the new leader", async () => (await versionServed(model)) === "2");
  expect(await leads(standby)).toBe(true);

  // A stopped leader releases the lease: a new standby takes over within a couple of seconds.
  const third = await start("replica-c");
  // The positive control: the new replica is ready, campaigning as a standby.
  await eventually(
    "the new replica ready",
    async () => (await fetch(`http://127.0.0.1:${third.port}/readyz`)).ok,
  );
  expect(await leads(third)).toBe(false);
  expect(await writes(third)).toBe(0);
  expect(await standby.stop()).toBe(0);
  // Released on the way out (a killed leader's name stays until the lease expires, above).
  expect([undefined, "", third.name]).toContain(await holder());
  await eventually("the takeover after SIGTERM", () => leads(third));
  await mlflow().transitionStage(model, "3", "Production", true);
  await eventually("the promotion by the third leader", async () => (await versionServed(model)) === "3");
  expect(await writes(third)).toBeGreaterThan(0);
});
