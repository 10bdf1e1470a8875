// The sync service as a user runs it: the `mlflow2seldon` command against the testbed.
import { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import { ANNOTATIONS } from "../../engine/manifest";
import { WRITE_BACK_TAGS } from "../../service/sync-service";
import { freshNamespace, kubeConfig, listSeldonDeployments } from "../support/cluster";
import { mlflow, mlflowUrl, registerModel, uniqueModelName } from "../support/mlflow";
import { repoRoot } from "../support/testbed-env";

const bin = join(repoRoot, "bin", "mlflow2seldon.js");
const TOKEN = "s3cr3t-token-never-logged";

function baseEnv(namespace: string, prefix: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    KUBECONFIG: process.env.KUBECONFIG,
    M2S_MLFLOW_HOST: mlflowUrl(),
    M2S_MLFLOW_TOKEN: TOKEN,
    M2S_SELDON_DEPLOYMENT_NS: namespace,
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/mlflow-wrapper:1.0",
    M2S_INCLUDE_MODELS: `${prefix}*`,
    M2S_OWNER: `cli-${namespace}`,
  };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  return port;
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
    expect(result.stderr).not.toContain(TOKEN);
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
  expect(once.stdout).not.toContain(TOKEN);
});

test("the service loop serves health, readiness and metrics, writes back tags, and stops cleanly on SIGTERM", async () => {
  const namespace = await freshNamespace("loop");
  const name = uniqueModelName("loop model");
  await registerModel(name, 1);
  await mlflow().setAlias(name, "champion", "1");
  const port = await freePort();
  const child = spawn(process.execPath, [bin, "sync"], {
    env: {
      ...baseEnv(namespace, name),
      M2S_HTTP_PORT: String(port),
      M2S_SYNC_INTERVAL_SECONDS: "1",
      M2S_WRITE_BACK: "true",
    },
  });
  let stdout = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  const waitFor = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 100 && !(await check().catch(() => false)); i++)
      await new Promise((r) => setTimeout(r, 200));
  };

  await waitFor(async () => (await fetch(url("/readyz"))).status === 200);
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

  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  expect(code).toBe(0);
  const events = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  expect(events.at(-1)).toMatchObject({ msg: "sync service stopped", service: "mlflow2seldon" });
  expect(events.find((e) => e.msg === "cycle finished")).toMatchObject({
    ok: true,
    changes: 1,
    durationMs: expect.any(Number),
    cpuMs: expect.any(Number),
  });
  expect(stdout).not.toContain(TOKEN);
});

test("Kubernetes refusals are reported per object with the API's message, and nothing else is lost", async () => {
  // A service account allowed to read SeldonDeployments but not to write them.
  const namespace = await freshNamespace("forbidden");
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "reader" } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: "reader" },
      rules: [
        {
          apiGroups: ["machinelearning.seldon.io"],
          resources: ["seldondeployments"],
          verbs: ["get", "list"],
        },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
      subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
    },
  });
  const token = (
    await core.createNamespacedServiceAccountToken({
      namespace,
      name: "reader",
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    })
  ).status!.token;
  const cluster = kc.getCurrentCluster()!;
  const kubeconfigFile = join(mkdtempSync(join(tmpdir(), "reader-")), "kubeconfig");
  writeFileSync(
    kubeconfigFile,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "reader",
      clusters: [
        {
          name: "testbed",
          cluster: { server: cluster.server, "certificate-authority-data": cluster.caData },
        },
      ],
      users: [{ name: "reader", user: { token } }],
      contexts: [{ name: "reader", context: { cluster: "testbed", user: "reader" } }],
    }),
  );

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
