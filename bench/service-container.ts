// The service image run as its Deployment runs it, for the benchmark's memory figures in the
// container: podman, the image's user and ENTRYPOINT (its V8 flags), a read-only root filesystem,
// no capabilities, and the SyncService component's default CPU and memory limits. The host's
// network reaches the testbed on loopback; the testbed's kubeconfig is mounted read-only from a
// private copy removed afterwards.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICE_RESOURCES } from "../components/service-resources";
import { podmanEnv, quantityBytes, quantityCpus, SERVICE_IMAGE } from "../testbed/podman";
import type { Launch } from "./service-process";

const KUBECONFIG_MOUNT = "/var/run/mlflow2seldon/kubeconfig";

/**
 * The service container's limits: the SyncService component's defaults, or the memory limit the
 * bench was given (--memory-limit-mib, for a registry the default cannot hold).
 */
export const containerLimits = {
  get memoryBytes(): number {
    const override = process.env.M2S_BENCH_MEMORY_LIMIT_MIB;
    return override ? Number(override) * 2 ** 20 : quantityBytes(SERVICE_RESOURCES.limits.memory);
  },
  cpus: quantityCpus(SERVICE_RESOURCES.limits.cpu),
};

const podman = (args: string[]) =>
  execFileSync("podman", args, { env: { ...process.env, ...podmanEnv }, encoding: "utf8" }).trim();

export class ContainerLaunch implements Launch {
  private readonly name = `m2s-bench-${randomBytes(3).toString("hex")}`;
  private readonly dir = mkdtempSync(join(tmpdir(), "m2s-bench-container-"));
  private pid?: number;

  constructor(kubeconfig: string) {
    copyFileSync(kubeconfig, join(this.dir, "kubeconfig"));
  }

  command(env: Record<string, string>) {
    const serviceEnv = { ...env, KUBECONFIG: KUBECONFIG_MOUNT };
    return {
      file: "podman",
      args: [
        "run",
        "--rm",
        "--name",
        this.name,
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--memory",
        String(containerLimits.memoryBytes),
        "--cpus",
        String(containerLimits.cpus),
        // `U`: owned by the image's user inside, as a kubelet's projected volume is readable by it.
        "--volume",
        `${join(this.dir, "kubeconfig")}:${KUBECONFIG_MOUNT}:ro,U`,
        // Names only: podman takes the values from its own environment, not from its arguments.
        ...Object.keys(serviceEnv).flatMap((name) => ["--env", name]),
        SERVICE_IMAGE,
        "sync",
      ],
      env: { ...serviceEnv, ...podmanEnv },
    };
  }

  /** The container's first process (the image's ENTRYPOINT: node) as the host sees it. */
  hostPid(): number {
    this.pid ??= Number(podman(["inspect", "--format", "{{.State.Pid}}", this.name]));
    if (!this.pid) throw new Error(`container ${this.name} is not running`);
    return this.pid;
  }

  /** High-water mark of the container's memory cgroup (page cache included), in bytes. */
  cgroupPeakBytes(): number {
    const cgroups = readFileSync(`/proc/${this.hostPid()}/cgroup`, "utf8");
    const v1 = /^\d+:memory:(.+)$/m.exec(cgroups);
    const file = v1
      ? join("/sys/fs/cgroup/memory", v1[1], "memory.max_usage_in_bytes")
      : join("/sys/fs/cgroup", /^0::(.+)$/m.exec(cgroups)?.[1] ?? "/", "memory.peak");
    return Number(readFileSync(file, "utf8").trim());
  }

  /** Removes the kubeconfig copy (the container removes itself when it stops). */
  cleanUp(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
