// What a kubelet does with a Pod, done with local processes. No container runtime pulls images
// here, so each image a serving controller names is stood for by the program that image runs
// (its entrypoint and ENV, from its Dockerfile), installed on the testbed. Everything else comes
// from the Pod as the API server holds it: init containers run to completion in order, then the
// containers start, with the Pod's args, env (secretKeyRef, configMapKeyRef, fieldRef, envFrom
// resolved as the kubelet resolves them) and volumes (an emptyDir is a fresh folder; a claim is
// the folder its test binds to it). A Pod has a filesystem and a network namespace of its own; two
// translations stand for them and are reported: a mount path in an argument or env value names the
// volume's folder, and each port number a container's env names is mapped to a free loopback port.
import type { CoreV1Api, V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port";

/** The local program that stands for an image. */
export interface ImageStandIn {
  /** The image's entrypoint (and default command, when the container gives no args) as a local command. */
  entrypoint: string[];
  /** Default args when the container has none (the image's CMD); `$(VAR)` expands from the env. */
  cmd?: string[];
  /** The image's own ENV, beneath the container's env. */
  env?: Record<string, string>;
  /** Ports the program listens on by default unless its env says otherwise, by env var name. */
  defaultPorts?: Record<string, number>;
  /** What runs in its place, for the test's report (image tag versus local version). */
  standsFor: string;
}

/** An image's repository without registry prefix `docker.io/` and without tag. */
export const imageRepository = (image: string) => image.replace(/^docker\.io\//, "").replace(/:[^/]*$/, "");

export interface RunningPod {
  /** The loopback port standing for a port number the Pod's containers listen on. */
  port(podPort: number): number;
  /** How each container ran: the stand-in, or why it did not run. */
  report: string[];
  stop(): Promise<void>;
}

export interface RunPodOptions {
  /** Where the Pod's Secrets and ConfigMaps are read. */
  core: CoreV1Api;
  standIns: Record<string, ImageStandIn>;
  /** Containers that no stand-in can run (by image repository), with the reason the test gives. */
  notRun?: Record<string, string>;
  /** Host folders bound to PersistentVolumeClaims, by claim name. */
  claims?: Record<string, string>;
  logDir: string;
}

async function resolveEnv(
  core: CoreV1Api,
  pod: V1Pod,
  container: V1Container,
): Promise<Record<string, string>> {
  const namespace = pod.metadata!.namespace!;
  const env: Record<string, string> = {};
  const secretData = async (name: string) =>
    Object.fromEntries(
      Object.entries((await core.readNamespacedSecret({ name, namespace })).data ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v, "base64").toString("utf8"),
      ]),
    );
  for (const source of container.envFrom ?? []) {
    if (source.secretRef) Object.assign(env, await secretData(source.secretRef.name!));
    if (source.configMapRef) {
      const { data } = await core.readNamespacedConfigMap({ name: source.configMapRef.name!, namespace });
      Object.assign(env, data);
    }
  }
  const fieldOf = (path: string): string => {
    const fields: Record<string, string | undefined> = {
      "metadata.name": pod.metadata!.name,
      "metadata.namespace": namespace,
      "spec.serviceAccountName": pod.spec!.serviceAccountName,
    };
    return fields[path] ?? "";
  };
  const valueOf = async ({ value, valueFrom }: V1EnvVar): Promise<string> => {
    if (valueFrom?.secretKeyRef)
      return (await secretData(valueFrom.secretKeyRef.name!))[valueFrom.secretKeyRef.key];
    if (valueFrom?.configMapKeyRef) {
      const { name, key } = valueFrom.configMapKeyRef;
      return (await core.readNamespacedConfigMap({ name: name!, namespace })).data?.[key] ?? "";
    }
    if (valueFrom?.fieldRef) return fieldOf(valueFrom.fieldRef.fieldPath);
    // `$(VAR)` refers to a variable defined earlier in the list, as the kubelet expands it.
    return (value ?? "").replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => env[name] ?? whole);
  };
  for (const variable of container.env ?? []) env[variable.name] = await valueOf(variable);
  return env;
}

/** Runs `pod` (read from the API server) as local processes; resolves once its containers started. */
export async function runPod(pod: V1Pod, options: RunPodOptions): Promise<RunningPod> {
  const root = mkdtempSync(join(tmpdir(), `pod-${pod.metadata!.name}-`));
  const volumes = new Map<string, string>();
  for (const volume of pod.spec!.volumes ?? []) {
    const claim = volume.persistentVolumeClaim?.claimName;
    if (claim && !options.claims?.[claim]) throw new Error(`the test binds no folder to claim ${claim}`);
    const folder = claim ? options.claims![claim] : join(root, "volumes", volume.name);
    mkdirSync(folder, { recursive: true });
    volumes.set(volume.name, folder);
  }
  const ports = new Map<number, number>();
  const hostPort = async (podPort: number) => {
    if (!ports.has(podPort)) ports.set(podPort, await freePort());
    return ports.get(podPort)!;
  };
  const report: string[] = [];
  const processes: ChildProcess[] = [];

  const prepare = async (container: V1Container) => {
    const repository = imageRepository(container.image!);
    const standIn = options.standIns[repository];
    if (!standIn) return undefined;
    if (container.command?.length)
      throw new Error(`${container.name}: a container command names paths inside ${container.image}`);
    const mounts = (container.volumeMounts ?? []).map((m) => ({
      path: m.mountPath,
      folder: join(volumes.get(m.name)!, m.subPath ?? ""),
    }));
    const onHost = (value: string) => {
      for (const { path, folder } of mounts) {
        if (value === path || value.startsWith(`${path}/`)) return folder + value.slice(path.length);
      }
      return value;
    };
    const env: Record<string, string> = {
      ...Object.fromEntries(Object.entries(standIn.defaultPorts ?? {}).map(([k, v]) => [k, String(v)])),
      ...standIn.env,
      ...(await resolveEnv(options.core, pod, container)),
    };
    for (const [name, value] of Object.entries(env)) {
      env[name] =
        /_PORT$/.test(name) && /^\d+$/.test(value) ? String(await hostPort(Number(value))) : onHost(value);
    }
    const expand = (arg: string) =>
      arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => env[name] ?? whole);
    const args = (container.args?.length ? container.args : (standIn.cmd ?? [])).map((a) =>
      onHost(expand(a)),
    );
    report.push(`${container.name}: ${container.image} stood for by ${standIn.standsFor}`);
    return { argv: [...standIn.entrypoint, ...args], env };
  };

  const start = (container: V1Container, argv: string[], env: Record<string, string>) => {
    mkdirSync(options.logDir, { recursive: true });
    const log = join(options.logDir, `${pod.metadata!.name}-${container.name}.log`);
    const child = spawn("sh", ["-c", 'exec "$@" > "$0" 2>&1', log, ...argv], {
      env: { PATH: process.env.PATH!, HOME: root, ...env },
      cwd: root,
      detached: true,
      stdio: "ignore",
    });
    return { child, log };
  };

  try {
    for (const container of pod.spec!.initContainers ?? []) {
      const prepared = await prepare(container);
      if (!prepared) throw new Error(`init container ${container.name}: no stand-in for ${container.image}`);
      const { child, log } = start(container, prepared.argv, prepared.env);
      const [code] = await once(child, "exit");
      if (code !== 0) throw new Error(`init container ${container.name} exited with ${code} (log: ${log})`);
    }
    for (const container of pod.spec!.containers) {
      const prepared = await prepare(container);
      if (!prepared) {
        const reason = options.notRun?.[imageRepository(container.image!)];
        if (!reason) throw new Error(`container ${container.name}: no stand-in for ${container.image}`);
        report.push(`${container.name}: ${container.image} not run (${reason})`);
        continue;
      }
      processes.push(start(container, prepared.argv, prepared.env).child);
    }
  } catch (error) {
    await stopAll(processes);
    throw error;
  }
  return {
    port(podPort) {
      const port = ports.get(podPort);
      if (port === undefined) throw new Error(`no container of the pod listens on ${podPort}`);
      return port;
    },
    report,
    async stop() {
      await stopAll(processes);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function stopAll(processes: ChildProcess[]) {
  for (const child of processes) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, "exit");
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // The process ended between the check and the signal.
    }
    await exited;
  }
}
