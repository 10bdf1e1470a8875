// One writer under faults, with two real replicas: replica A reaches the kube-apiserver through a
// loopback proxy (which sees, delays or stalls each request and records what it forwarded, when),
// replica B directly. A leader cut off from the API server mid-batch, or stopped with SIGTERM
// mid-batch, sends no write that reaches the API server after B acquired the lease.
import { CoordinationV1Api } from "@kubernetes/client-node";
import {
  adminUpstream,
  freshNamespace,
  kubeConfig,
  kubeconfigVia,
  listSeldonDeployments,
} from "../support/cluster";
import { HttpFaultProxy, type ProxiedRequest } from "../support/http-proxy";
import { mlflow, registerModel, uniqueModelName } from "../support/mlflow";
import { serviceEnv, startService, type RunningService } from "../support/service";
import { eventually } from "../support/wait";

/** Enough for a batch of several rounds of 8 parallel writes, each held a second by the proxy. */
const MODELS = 32;
const OWNER = "faulty-replicas";
const LEASE = "mlflow2seldon-" + OWNER;

const replicas: RunningService[] = [];

async function start(name: string, namespace: string, prefix: string, kubeconfig?: string) {
  const env = serviceEnv(namespace, prefix, OWNER, {
    M2S_SYNC_INTERVAL_SECONDS: "1",
    M2S_WATCH: "false",
    M2S_LEADER_ELECTION: "true",
    M2S_LEASE_DURATION_SECONDS: "4",
    M2S_RENEW_DEADLINE_SECONDS: "3",
    M2S_RETRY_PERIOD_SECONDS: "0.5",
    POD_NAME: name,
  });
  if (kubeconfig) env.KUBECONFIG = kubeconfig;
  const replica = await startService(env, { ready: "/healthz" });
  replicas.push(replica);
  return replica;
}

const leads = async (r: RunningService) => (await r.metric("mlflow2seldon_leader")) === 1;
const isWrite = (r: ProxiedRequest) =>
  r.path.includes("/seldondeployments") && (r.method === "PATCH" || r.method === "DELETE");

async function lease(namespace: string) {
  return (await kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE, namespace }))
    .spec!;
}

/** A namespace, `MODELS` models in Production, and a proxy in front of the API server. */
async function scenario(stem: string) {
  const namespace = await freshNamespace(stem.replace(/ /g, "-"));
  const prefix = uniqueModelName(stem);
  for (let i = 0; i < MODELS; i++) {
    await registerModel(`${prefix} ${i}`, 1);
    await mlflow().transitionStage(`${prefix} ${i}`, "1", "Production");
  }
  const proxy = new HttpFaultProxy(adminUpstream());
  const url = await proxy.start();
  // Each write waits a second in the proxy: a batch of 32 takes four seconds or more.
  proxy.decide = (r) => (isWrite(r) ? { kind: "pass", delayMs: 1000 } : { kind: "pass" });
  return { namespace, prefix, proxy, url };
}

/** Writes of replica A that reached the API server after `acquired`. */
const writesAfter = (proxy: HttpFaultProxy, acquired: Date) =>
  proxy.forwarded.filter((f) => isWrite(f) && f.at > acquired.getTime());

afterEach(async () => {
  for (const r of replicas.splice(0)) await r.stop("SIGKILL");
});

afterAll(async () => {
  for (const m of await mlflow().listRegisteredModels())
    if (m.name.startsWith("leader cut") || m.name.startsWith("leader term"))
      await mlflow().deleteRegisteredModel(m.name);
});

test("a leader cut off from the API server mid-batch sends no write after the other replica acquires the lease", async () => {
  const { namespace, prefix, proxy, url } = await scenario("leader cut");
  const a = await start("replica-a", namespace, prefix, kubeconfigVia(url));
  await eventually("A leading", () => leads(a));
  await eventually("A's batch under way", async () => proxy.forwarded.filter(isWrite).length >= 1);
  // The network to the API server stalls for A: nothing it sends arrives, nothing comes back.
  proxy.decide = () => ({ kind: "hold" });
  const b = await start("replica-b", namespace, prefix);
  await eventually("B leading", () => leads(b), 30_000);
  const acquired = new Date((await lease(namespace)).acquireTime!);
  const before = proxy.forwarded.filter(isWrite).length;
  expect(before).toBeLessThan(MODELS);
  // A's network comes back: its batch must not go on.
  proxy.cut();
  proxy.decide = () => ({ kind: "pass" });
  await eventually(
    "B serving every model",
    async () => (await listSeldonDeployments(namespace)).length === MODELS,
  );
  // Long enough for A's retries and its next lease attempt to have gone through the proxy.
  await eventually("A asking for the lease again", async () =>
    proxy.forwarded.some((f) => f.path.includes("/leases/") && f.at > Date.now() - 1000),
  );
  expect((await lease(namespace)).holderIdentity).toBe("replica-b");
  expect(writesAfter(proxy, acquired)).toEqual([]);
  expect(await leads(a)).toBe(false);
  await proxy.stop();
});

test("SIGTERM mid-batch: the leader stops writing before it releases the lease", async () => {
  const { namespace, prefix, proxy, url } = await scenario("leader term");
  const a = await start("replica-a", namespace, prefix, kubeconfigVia(url));
  await eventually("A leading", () => leads(a));
  const b = await start("replica-b", namespace, prefix);
  await eventually("A's batch under way", async () => proxy.forwarded.filter(isWrite).length >= 1);
  expect(await a.stop()).toBe(0);
  await eventually("B leading", () => leads(b), 30_000);
  const acquired = new Date((await lease(namespace)).acquireTime!);
  await eventually(
    "B serving every model",
    async () => (await listSeldonDeployments(namespace)).length === MODELS,
  );
  // A's batch was cut short (B finished it), and nothing of A's arrived after B took over.
  expect(proxy.forwarded.filter(isWrite).length).toBeLessThan(MODELS);
  expect(writesAfter(proxy, acquired)).toEqual([]);
  await proxy.stop();
});
