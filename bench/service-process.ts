// The sync service as its own process (`mlflow2seldon sync`), as it runs in its container. The
// benchmark learns of each finished cycle from the structured log and reads the figures of that
// cycle from /metrics: the process's own instrumentation, scraped between cycles.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { repoRoot } from "../test/support/testbed-env";
import { containerLimits } from "./service-container";

export type Scrape = Map<string, number>;

/** Prometheus text format into `name{labels}` -> value (comments skipped). */
export function parseMetrics(text: string): Scrape {
  const values: Scrape = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Sum of every series of one metric, optionally only those whose labels contain `label`. */
export function total(scrape: Scrape, name: string, label?: string): number {
  let sum = 0;
  for (const [series, value] of scrape) {
    const bare = series.split("{")[0];
    if (bare === name && (!label || series.includes(label))) sum += value;
  }
  return sum;
}

export interface CycleFigures {
  wallSeconds: number;
  cpuSeconds: number;
  mlflowRequests: number;
  kubeRequests: number;
  kubeWrites: number;
}

/** What happened between two scrapes that are exactly one cycle apart. */
export function cycleFigures(before: Scrape, after: Scrape): CycleFigures {
  const delta = (name: string, label?: string) => total(after, name, label) - total(before, name, label);
  const cycles = delta("mlflow2seldon_cycle_seconds_count");
  if (cycles !== 1) throw new Error(`expected one cycle between two scrapes, saw ${cycles}`);
  return {
    wallSeconds: delta("mlflow2seldon_cycle_seconds_sum"),
    cpuSeconds: delta("mlflow2seldon_cycle_cpu_seconds_sum"),
    mlflowRequests: delta("mlflow2seldon_mlflow_requests_total"),
    kubeRequests: delta("mlflow2seldon_kube_requests_total"),
    kubeWrites:
      delta("mlflow2seldon_kube_requests_total", 'verb="apply"') +
      delta("mlflow2seldon_kube_requests_total", 'verb="delete"'),
  };
}

/** The image's ENTRYPOINT (node, its flags, the script): the benchmark runs the service the same way. */
export function containerEntrypoint(): string[] {
  const line = /^ENTRYPOINT (.+)$/m.exec(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
  if (!line) throw new Error("no ENTRYPOINT in the Dockerfile");
  return JSON.parse(line[1]) as string[];
}

/** How the service is started, and which host process is its Node.js. */
export interface Launch {
  command(env: Record<string, string>): { file: string; args: string[]; env: Record<string, string> };
  hostPid(childPid: number): number;
}

const OLD_SPACE_PERCENTAGE = "--max-old-space-size-percentage=";

/**
 * The V8 old-space ceiling in MB the image's ENTRYPOINT gives the service under its container's
 * memory limit (a share of the limit), which a process on the host is given directly.
 */
export function oldSpaceMb(): number {
  const flag = containerEntrypoint().find((arg) => arg.startsWith(OLD_SPACE_PERCENTAGE));
  if (!flag) throw new Error(`the Dockerfile's ENTRYPOINT sets no ${OLD_SPACE_PERCENTAGE}`);
  return Math.floor(
    ((containerLimits.memoryBytes / 2 ** 20) * Number(flag.slice(OLD_SPACE_PERCENTAGE.length))) / 100,
  );
}

/** This Node.js running the image's ENTRYPOINT (its V8 flags, its script) from the build in dist/. */
export function nodeLaunch(nodeOptions: string[] = []): Launch {
  const command = containerEntrypoint()
    .slice(1)
    .map((arg) => (arg.startsWith(OLD_SPACE_PERCENTAGE) ? `--max-old-space-size=${oldSpaceMb()}` : arg));
  return {
    command: (env) => ({ file: process.execPath, args: [...nodeOptions, ...command, "sync"], env }),
    hostPid: (childPid) => childPid,
  };
}

export class ServiceProcess {
  private readonly child: ChildProcess;
  private readonly waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private lastScrape: Scrape = new Map();
  private readonly exited: Promise<number | null>;
  /** Cycles finished so far (successful or not). */
  cyclesFinished = 0;
  /** Node.js process warnings printed so far (e.g. MaxListenersExceededWarning: a leak). */
  readonly warnings: string[] = [];

  private readonly launch: Launch;

  /** `env` is the service's own environment; the launch says where it runs (default: a process here). */
  constructor(
    env: Record<string, string>,
    private readonly httpPort: number,
    launch: Launch = nodeLaunch(),
  ) {
    this.launch = launch;
    const command = launch.command({ ...env, M2S_HTTP_PORT: String(httpPort) });
    this.child = spawn(command.file, command.args, {
      cwd: repoRoot,
      env: { ...process.env, ...command.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    createInterface({ input: this.child.stderr! }).on("line", (line) => {
      if (/Warning:/.test(line)) this.warnings.push(line);
      process.stderr.write(`${line}\n`);
    });
    this.exited = new Promise((resolve) => this.child.once("exit", resolve));
    void this.exited.then((code) => this.failWaiters(new Error(`sync service exited with ${code}`)));
    createInterface({ input: this.child.stdout! }).on("line", (line) => this.onLog(line));
  }

  private onLog(line: string): void {
    let entry: { msg?: string; ok?: boolean };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (entry.msg !== "cycle finished") return;
    this.cyclesFinished++;
    if (entry.ok) this.waiters.shift()?.resolve();
    else this.failWaiters(new Error(`a sync cycle did not fully succeed: ${line}`));
  }

  private failWaiters(error: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** Waits for the next cycle to finish and returns its figures. */
  async nextCycle(): Promise<CycleFigures> {
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    const scrape = await this.scrape();
    const figures = cycleFigures(this.lastScrape, scrape);
    this.lastScrape = scrape;
    return figures;
  }

  /** Waits until `count` cycles have finished in all. */
  async untilCycles(count: number): Promise<void> {
    while (this.cyclesFinished < count) {
      if (this.child.exitCode !== null) throw new Error(`sync service exited with ${this.child.exitCode}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async scrape(): Promise<Scrape> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`);
    return parseMetrics(await response.text());
  }

  /** The service's Node.js process as the host sees it. */
  hostPid(): number {
    return this.launch.hostPid(this.child.pid!);
  }

  /** Peak resident set size of the service's process so far (the kernel's high-water mark), in bytes. */
  peakRssBytes(): number {
    const pid = this.hostPid();
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (!kib) throw new Error(`no VmHWM in /proc/${pid}/status`);
    return Number(kib[1]) * 1024;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
}
