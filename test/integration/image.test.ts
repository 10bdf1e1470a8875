// The service image, built from the Dockerfile as written by `make image` (podman; its base made
// here from Debian's packages, no registry being reachable), and run as its Deployment runs it:
// the container spec the SyncService component wrote through `pulumi up` on the testbed becomes
// the `podman run` arguments (image, args, env and the Secret's env, user, memory and CPU limits,
// read-only root filesystem, dropped capabilities), with the service account's token and the API server's CA
// mounted where the in-cluster client looks for them, as a kubelet mounts them. Two things differ,
// both because the container shares the host's network to reach the testbed on loopback: the
// Service's target port is moved to a free one, and the models are limited to this file's (the
// testbed's MLflow is shared by every test file).
import { AppsV1Api, type V1Container, type V1Deployment } from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { core, freshNamespace, kubeConfig, listSeldonDeployments } from "../support/cluster";
import { mlflow, mlflowUrl, registerModel, uniqueModelName } from "../support/mlflow";
import { pulumiOk, repositoryStack, run, runOk } from "../support/pulumi";
import { readmeCommands, withoutComments } from "../support/readme";
import { repoRoot } from "../support/testbed-env";
import { eventually, freePort } from "../support/wait";
import { ANNOTATIONS, LABELS } from "../../engine/vocabulary";
import { podmanEnv, quantityBytes, quantityCpus, SERVICE_IMAGE } from "../../testbed/podman";

const podman = (args: string[]) => run("podman", args, { env: podmanEnv });
const id = randomBytes(3).toString("hex");
const stack = `it-image-${id}`;
const serviceNamespace = `m2s-image-${id}`;
const model = uniqueModelName("image model");
const work = mkdtempSync(join(tmpdir(), "image-test-"));

let namespace: string;
let repoStack: ReturnType<typeof repositoryStack>;
let deployment: V1Deployment;
let secretEnv: Record<string, string>;
let accountDir: string;
const running = new Map<string, ChildProcess>();

const versionsServed = async () =>
  (await listSeldonDeployments(namespace))
    .filter((o) => o.metadata.annotations[ANNOTATIONS.modelName] === model)
    .map((o) => o.metadata.labels[LABELS.version]);

/** The service account's token and the cluster's CA, as a kubelet mounts them. */
async function serviceAccountMount(account: string): Promise<string> {
  const dir = mkdtempSync(join(work, "serviceaccount-"));
  const { status } = await core().createNamespacedServiceAccountToken({
    name: account,
    namespace: serviceNamespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kubeconfig = parse(readFileSync(process.env.KUBECONFIG!, "utf8"));
  const ca = Buffer.from(kubeconfig.clusters[0].cluster["certificate-authority-data"], "base64");
  // Readable by the container's user, as a kubelet's projected volume is (0644).
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "token"), status!.token!, { mode: 0o644 });
  writeFileSync(join(dir, "ca.crt"), ca, { mode: 0o644 });
  writeFileSync(join(dir, "namespace"), serviceNamespace, { mode: 0o644 });
  return dir;
}

/** `podman run` arguments for the Deployment's container as `podName`, its HTTP port at `port`. */
function containerArgs(podName: string, port: number, args?: string[]): string[] {
  const pod = deployment.spec!.template.spec!;
  const container: V1Container = pod.containers[0];
  const fieldRefs: Record<string, string> = {
    "metadata.name": podName,
    "metadata.namespace": serviceNamespace,
  };
  const env: Record<string, string> = {};
  // An empty value comes back from the API server as no value at all.
  for (const e of container.env ?? [])
    env[e.name] = e.valueFrom ? fieldRefs[e.valueFrom.fieldRef!.fieldPath] : (e.value ?? "");
  Object.assign(env, secretEnv, {
    // What a kubelet adds for the in-cluster client.
    KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: new URL(kubeConfig().getCurrentCluster()!.server).port,
    M2S_HTTP_PORT: String(port),
    M2S_INCLUDE_MODELS: model,
  });
  // Secrets in a file only this user reads, not on the command line.
  const envFile = join(work, `${podName}.env`);
  writeFileSync(
    envFile,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
    { mode: 0o600 },
  );
  const context = container.securityContext!;
  const limits = container.resources?.limits ?? {};
  return [
    "run",
    "--rm",
    "--name",
    podName,
    "--network",
    "host",
    "--user",
    `${pod.securityContext!.runAsUser}:${pod.securityContext!.runAsGroup}`,
    ...(context.readOnlyRootFilesystem ? ["--read-only"] : []),
    ...(context.capabilities?.drop ?? []).flatMap((c) => ["--cap-drop", c]),
    ...(context.allowPrivilegeEscalation === false ? ["--security-opt", "no-new-privileges"] : []),
    ...(limits.memory ? ["--memory", String(quantityBytes(limits.memory))] : []),
    ...(limits.cpu ? ["--cpus", String(quantityCpus(limits.cpu))] : []),
    "--env-file",
    envFile,
    "--volume",
    `${accountDir}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
    container.image!,
    ...(args ?? container.args ?? []),
  ];
}

function start(podName: string, port: number): ChildProcess {
  const child = spawn("podman", containerArgs(podName, port), {
    env: { ...process.env, ...podmanEnv },
    stdio: ["ignore", "ignore", "ignore"],
  });
  running.set(podName, child);
  return child;
}

async function metric(port: number, prefix: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(prefix) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

beforeAll(async () => {
  // Built as the README shows it, from the repository root (cached layers make a rebuild quick).
  const [block] = readmeCommands("## The service image");
  expect(withoutComments(block)).toEqual(["make image"]);
  const built = runOk("bash", ["-c", block[0]]);
  expect(built).toMatch(new RegExp(`\\[image\\] ${SERVICE_IMAGE}: \\d+ MB`));
  namespace = await freshNamespace("image");
  await registerModel(model, 2);
  await mlflow().transitionStage(model, "1", "Production");
  repoStack = repositoryStack(
    stack,
    {
      mlflowUrl: mlflowUrl(),
      deploymentNamespace: namespace,
      serviceNamespace,
      serviceImage: SERVICE_IMAGE,
      wrapperImage: "registry.example.com/mlflow-wrapper:1.0",
      snapshotModels: "false",
      skipAwait: "true",
      // A limit of the stack's choosing, which the image's heap ceiling follows.
      serviceResources: JSON.stringify({
        requests: { memory: "128Mi" },
        limits: { memory: "384Mi", cpu: "500m" },
      }),
    },
    { mlflowToken: `tok-${randomBytes(8).toString("hex")}` },
  );
  pulumiOk(["up", "--yes", "--stack", stack]);
  deployment = await kubeConfig()
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ name: "mlflow2seldon", namespace: serviceNamespace });
  const container = deployment.spec!.template.spec!.containers[0];
  const secretName = container.envFrom![0].secretRef!.name!;
  const secret = await core().readNamespacedSecret({ name: secretName, namespace: serviceNamespace });
  secretEnv = Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
  );
  accountDir = await serviceAccountMount(deployment.spec!.template.spec!.serviceAccountName!);
});

afterAll(async () => {
  for (const [name, child] of running) {
    if (child.exitCode !== null) continue;
    podman(["stop", "--time", "5", name]);
    await once(child, "exit");
  }
  if (repoStack) {
    pulumiOk(["destroy", "--yes", "--stack", stack]);
    repoStack.remove();
  }
  rmSync(work, { recursive: true, force: true });
});

test("the image holds the service's production files only: no tests, bench, testbed, Pulumi or TypeScript", () => {
  const list = (path: string) =>
    podman(["run", "--rm", "--entrypoint", "ls", SERVICE_IMAGE, "-1", path])
      .stdout.split("\n")
      .filter(Boolean);
  expect(list("/app").sort()).toEqual(["bin", "dist", "node_modules", "package.json"]);
  expect(list("/app/dist").sort()).toEqual(["engine", "service"]);
  const modules = list("/app/node_modules");
  const production = Object.keys(
    JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).dependencies,
  );
  expect(modules).toEqual(expect.arrayContaining(production));
  expect(modules.filter((m) => /^(@pulumi|typescript|ts-node|jest|@types|eslint)/.test(m))).toEqual([]);
  const sources = podman([
    "run",
    "--rm",
    "--entrypoint",
    "find",
    SERVICE_IMAGE,
    "/app/dist",
    "-name",
    "*.ts",
  ]);
  expect(sources.stdout.trim()).toBe("");
  // The image's user and entry point, as the Dockerfile sets them.
  const config = JSON.parse(podman(["image", "inspect", SERVICE_IMAGE]).stdout)[0].Config;
  expect(config.User).toBe("10001:10001");
  expect(config.Entrypoint).toEqual([
    "node",
    "--max-semi-space-size=1",
    "--max-old-space-size-percentage=50",
    "bin/mlflow2seldon.js",
  ]);
});

test("the image's V8 heap ceiling is half its container's memory limit: the stack's serviceResources reach the Deployment, and its 384Mi give 192 MB", () => {
  const entrypoint: string[] = JSON.parse(podman(["image", "inspect", SERVICE_IMAGE]).stdout)[0].Config
    .Entrypoint;
  const nodeFlags = entrypoint.slice(1, -1);
  const heapCeilingMib = (memory: string) => {
    const probe = podman([
      "run",
      "--rm",
      "--memory",
      String(quantityBytes(memory)),
      "--entrypoint",
      "node",
      SERVICE_IMAGE,
      ...nodeFlags,
      "-p",
      "require('v8').getHeapStatistics().heap_size_limit / 2 ** 20",
    ]);
    if (probe.code !== 0) throw new Error(`node in the image exited ${probe.code}:\n${probe.output}`);
    return Number(probe.stdout.trim());
  };
  const limit = deployment.spec!.template.spec!.containers[0].resources!.limits!.memory;
  expect(limit).toBe("384Mi");
  // The ceiling counts the young generation too (three 1 MiB semi-spaces).
  expect(heapCeilingMib(limit)).toBeGreaterThanOrEqual(192);
  expect(heapCeilingMib(limit)).toBeLessThan(200);
  expect(heapCeilingMib("1Gi")).toBeGreaterThanOrEqual(512);
  expect(heapCeilingMib("1Gi")).toBeLessThan(520);
});

test("sync --once from the image, as the Deployment's container with its service account, writes the Production model's object", async () => {
  const cycle = podman(containerArgs(`m2s-once-${id}`, await freePort(), ["sync", "--once"]));
  if (cycle.code !== 0) throw new Error(`sync --once exited ${cycle.code}:\n${cycle.output}`);
  expect(await versionsServed()).toEqual(["1"]);
});

test("two containers as the Deployment's replicas: one leader writes, both answer their probes; a promotion is served; a third's sync --once writes nothing; SIGTERM stops each with exit 0 within the grace period", async () => {
  const ports = [await freePort(), await freePort()];
  const names = [`mlflow2seldon-${id}-a`, `mlflow2seldon-${id}-b`];
  const children = names.map((name, i) => start(name, ports[i]));
  for (const port of ports) {
    await eventually("/healthz", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000);
    await eventually("/readyz", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 60_000);
  }
  const leaders = await eventually("one leader", async () => {
    const values = await Promise.all(ports.map((p) => metric(p, "mlflow2seldon_leader")));
    return values.reduce((a, b) => a + b, 0) === 1 ? values : undefined;
  });
  await mlflow().transitionStage(model, "2", "Production", true);
  await eventually("the promotion served", async () => (await versionsServed()).join() === "2" || undefined);
  const writes = await Promise.all(
    ports.map((p) => metric(p, "mlflow2seldon_kube_requests_total", 'verb="apply"')),
  );
  const standby = leaders.indexOf(0);
  expect(writes[standby]).toBe(0);
  expect(writes[1 - standby]).toBeGreaterThan(0);

  // A third replica's `sync --once` (a CronJob with the same settings) waits for the lease the
  // leader keeps renewing, and writes nothing.
  const third = podman(containerArgs(`mlflow2seldon-${id}-c`, await freePort(), ["sync", "--once"]));
  expect(third.code).toBe(1);
  expect(third.output).toContain("another replica holds the lease: sync --once wrote nothing");

  // podman stop sends SIGTERM and kills after the pod's grace period: exit 0 means it stopped in time.
  const grace = deployment.spec!.template.spec!.terminationGracePeriodSeconds ?? 30;
  for (const [i, name] of names.entries()) {
    const exited = once(children[i], "exit");
    podman(["stop", "--time", String(grace), name]);
    const [code] = await exited;
    expect(code).toBe(0);
  }
});
