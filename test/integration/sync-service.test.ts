// The sync service as a user runs it: the `mlflow2seldon` command against the testbed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WRITE_BACK_TAGS } from "../../service/sync-service";
import {
  freshNamespace,
  kubeConfig,
  kubeconfigWithToken,
  listSeldonDeployments,
  serviceAccountToken,
  serviceAccountWithRole,
} from "../support/cluster";
import { mlflow, mlflowUnderTest, mlflowUrl, registerModel, uniqueModelName } from "../support/mlflow";
import { FaultProxy } from "../support/fault-proxy";
import { serviceBin, serviceEnv, startService } from "../support/service";
import { eventually } from "../support/wait";
import { ANNOTATIONS } from "../../engine/vocabulary";

const bin = serviceBin;
// A secret the service is given and must never print: the password of an MLflow that asks for
// one, else a token the MLflow under test does not check.
const password = mlflowUnderTest().serviceSettings.M2S_MLFLOW_PASSWORD;
const SECRET = password ?? "s3cr3t-token-never-logged";

function baseEnv(namespace: string, prefix: string): NodeJS.ProcessEnv {
  return serviceEnv(namespace, prefix, `cli-${namespace}`, password ? {} : { M2S_MLFLOW_TOKEN: SECRET });
}

describe("configuration errors stop start-up with exit code 2 and name the variable", () => {
  test.each([
    ["M2S_MLFLOW_HOST", undefined],
    ["M2S_REPLICAS", "many"],
    ["M2S_SELDON_DEPLOYMENT_NS", "Not_A_Namespace"],
    ["M2S_SERVING_MODE", "kserve"],
    ["M2S_RESOURCES", "{cpu: 1}"],
    ["M2S_WRITE_BACK", "maybe"],
  ])("%s=%s", (variable, value) => {
    const overrides = { [variable]: value };
    const env: NodeJS.ProcessEnv = { ...baseEnv("any", "x"), ...overrides };
    for (const [key, value] of Object.entries(overrides)) if (value === undefined) delete env[key];
    const result = spawnSync(process.execPath, [bin, "sync", "--once"], { env, encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(variable);
    expect(result.stderr).not.toContain(SECRET);
  });
});

test("sync --dry-run prints the plan and writes nothing; sync --once applies it", async () => {
  const namespace = await freshNamespace("cli");
  const name = uniqueModelName("cli dry");
  await registerModel(name, 1);
  await mlflow().transitionStage(name, "1", "Production");
  const env = baseEnv(namespace, name);

  const dry = spawnSync(process.execPath, [bin, "sync", "--dry-run"], { env, encoding: "utf8" });
  expect(dry.status).toBe(0);
  expect(dry.stdout).toMatch(
    new RegExp(`^create +${namespace}/cli-dry-.*${name}@1 \\(stage:Production\\)`, "m"),
  );
  expect(await listSeldonDeployments(namespace)).toEqual([]);

  const once = spawnSync(process.execPath, [bin, "sync", "--once"], { env, encoding: "utf8" });
  expect(once.status).toBe(0);
  expect(await listSeldonDeployments(namespace)).toHaveLength(1);
  const lines = once.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  expect(lines).toContainEqual(
    expect.objectContaining({ msg: "created SeldonDeployment", model: name, version: "1" }),
  );
  expect(once.stdout).not.toContain(SECRET);
});

test("the service loop serves health, readiness and metrics, writes back tags, and stops cleanly on SIGTERM", async () => {
  const namespace = await freshNamespace("loop");
  const name = uniqueModelName("loop model");
  await registerModel(name, 1);
  await mlflow().setAlias(name, "champion", "1");
  const service = await startService({
    ...baseEnv(namespace, name),
    M2S_SYNC_INTERVAL_SECONDS: "1",
    M2S_WRITE_BACK: "true",
  });
  const url = (path: string) => `http://127.0.0.1:${service.port}${path}`;

  expect((await fetch(url("/healthz"))).status).toBe(200);
  expect((await fetch(url("/readyz"))).status).toBe(200);
  const metrics = await (await fetch(url("/metrics"))).text();
  expect(metrics).toMatch(/mlflow2seldon_cycles_total\{result="success"\} [1-9]/);
  expect(metrics).toContain("mlflow2seldon_last_success_timestamp_seconds");
  // Each cycle's requests, writes, wall and CPU time, as the benchmark reads them.
  expect(metrics).toMatch(
    /mlflow2seldon_mlflow_requests_total\{endpoint="registered-models\/search"\} [1-9]/,
  );
  expect(metrics).toMatch(/mlflow2seldon_kube_requests_total\{verb="list"\} [1-9]/);
  expect(metrics).toMatch(/mlflow2seldon_kube_requests_total\{verb="apply"\} 1\n/);
  expect(metrics).toMatch(/mlflow2seldon_cycle_seconds_count [1-9]/);
  expect(metrics).toMatch(/mlflow2seldon_cycle_cpu_seconds_count [1-9]/);
  // Standard process metric names, and buckets that hold a cycle of several minutes.
  expect(metrics).toMatch(/^process_cpu_seconds_total /m);
  expect(metrics).toMatch(/^nodejs_heap_size_used_bytes /m);
  expect(metrics).not.toContain("mlflow2seldon_process_");
  expect(metrics).toContain('mlflow2seldon_cycle_seconds_bucket{le="600"}');
  expect(metrics).toMatch(/mlflow2seldon_mlflow_connections_total [1-9]/);

  const [sdep] = await listSeldonDeployments(namespace);
  expect(sdep.metadata.annotations[ANNOTATIONS.slot]).toBe("alias:champion");
  const version = await mlflow().getModelVersion(name, "1");
  expect(version.tags[WRITE_BACK_TAGS.deployment]).toBe(`${namespace}/${sdep.metadata.name}`);

  expect(await service.stop()).toBe(0);
  const events = service.logs.map((line) => JSON.parse(line));
  expect(events.at(-1)).toMatchObject({ msg: "sync service stopped", service: "mlflow2seldon" });
  expect(events.find((e) => e.msg === "cycle finished")).toMatchObject({
    ok: true,
    changes: 1,
    durationMs: expect.any(Number),
    cpuMs: expect.any(Number),
  });
  expect(service.logs.join("\n")).not.toContain(SECRET);
});

test("until its first successful cycle /readyz answers 503 (MLflow answering 503 from the start), /healthz 200; once MLflow answers it is ready", async () => {
  const namespace = await freshNamespace("ready");
  const proxy = new FaultProxy(new URL(mlflowUrl()));
  const proxied = await proxy.start();
  proxy.setMode("http503");
  // An outage at start-up is not a setting: the service starts and keeps trying.
  const service = await startService(
    {
      ...baseEnv(namespace, uniqueModelName("ready model")),
      M2S_MLFLOW_HOST: proxied,
      M2S_SYNC_INTERVAL_SECONDS: "1",
      M2S_MAX_BACKOFF_SECONDS: "1",
    },
    { ready: "/healthz" },
  );
  const status = async (path: string) => (await fetch(`http://127.0.0.1:${service.port}${path}`)).status;
  try {
    // Positive control: a cycle has failed before readiness is judged.
    await eventually(
      "a failed cycle",
      async () => (await service.metric('mlflow2seldon_cycles_total{result="failure"}')) > 0,
    );
    expect(await status("/healthz")).toBe(200);
    expect(await status("/readyz")).toBe(503);
    proxy.setMode("pass");
    await eventually("ready", async () => (await status("/readyz")) === 200);
  } finally {
    await service.stop();
    await proxy.stop();
  }
});

test("Kubernetes refusals are reported per object with the API's message, and nothing else is lost", async () => {
  // A service account allowed to read SeldonDeployments but not to write them.
  const namespace = await freshNamespace("forbidden");
  await serviceAccountWithRole(namespace, "reader", [
    { apiGroups: ["machinelearning.seldon.io"], resources: ["seldondeployments"], verbs: ["get", "list"] },
  ]);
  const kubeconfigFile = kubeconfigWithToken(await serviceAccountToken(namespace, "reader"));

  const name = uniqueModelName("forbidden model");
  await registerModel(name, 1);
  await mlflow().transitionStage(name, "1", "Production");
  const result = spawnSync(process.execPath, [bin, "sync", "--once"], {
    env: { ...baseEnv(namespace, name), KUBECONFIG: kubeconfigFile },
    encoding: "utf8",
  });
  expect(result.status).toBe(1);
  const failure = result.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line))
    .find((event) => event.msg === "could not create SeldonDeployment");
  expect(failure).toMatchObject({ action: "create", message: expect.stringMatching(/HTTP 403.*forbidden/i) });
  expect(await listSeldonDeployments(namespace)).toEqual([]);
});

test("in a pod (no kubeconfig), the service authenticates with its mounted service account token", async () => {
  const namespace = await freshNamespace("in-cluster");
  await serviceAccountWithRole(namespace, "sync", [
    {
      apiGroups: ["machinelearning.seldon.io"],
      resources: ["seldondeployments"],
      verbs: ["get", "list", "create", "patch", "delete"],
    },
    { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  ]);
  // What the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount.
  const mounted = mkdtempSync(join(tmpdir(), "serviceaccount-"));
  writeFileSync(join(mounted, "token"), await serviceAccountToken(namespace, "sync"));
  const cluster = kubeConfig().getCurrentCluster()!;
  writeFileSync(join(mounted, "ca.crt"), Buffer.from(cluster.caData!, "base64"));
  const server = new URL(cluster.server);

  const name = uniqueModelName("in-cluster model");
  await registerModel(name, 1);
  await mlflow().transitionStage(name, "1", "Production");
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(namespace, name),
    HOME: mounted,
    KUBERNETES_SERVICE_HOST: server.hostname,
  };
  delete env.KUBECONFIG;
  // A private mount namespace gives the process the pod's mount, as the kubelet would.
  const pod = `mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io && cp -r "$1" /run/secrets/kubernetes.io/serviceaccount && exec "$2" "$3" sync --once`;
  const asRoot = process.getuid?.() === 0 ? [] : ["--user", "--map-root-user"];
  const result = spawnSync(
    "unshare",
    [
      ...asRoot,
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      pod,
      "pod",
      mounted,
      process.execPath,
      bin,
    ],
    { env: { ...env, KUBERNETES_SERVICE_PORT: server.port }, encoding: "utf8" },
  );
  rmSync(mounted, { recursive: true, force: true });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const [object] = await listSeldonDeployments(namespace);
  expect(object.metadata.annotations[ANNOTATIONS.modelName]).toBe(name);
  expect(object.metadata.managedFields.map((f: { manager: string }) => f.manager)).toContain(
    `mlflow2seldon-cli-${namespace}`,
  );
});
