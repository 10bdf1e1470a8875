// The `mlflow2seldon` command as tests run it, the way a user does: its environment for one
// namespace and one set of models, the process started and stopped, and the figures it serves on
// /metrics. Every service a test file starts is stopped when the file ends, pass or fail
// (test/support/after-each-file.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { mlflowUnderTest } from "./mlflow";
import { repoRoot } from "./testbed-env";
import { eventually } from "./wait";

export const serviceBin = join(repoRoot, "bin", "mlflow2seldon.js");

/** The environment of a service writing to `namespace` as `owner`, for the models named `prefix*`. */
export function serviceEnv(
  namespace: string,
  prefix: string,
  owner: string,
  settings: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    KUBECONFIG: process.env.KUBECONFIG,
    ...mlflowUnderTest().serviceSettings,
    M2S_SELDON_DEPLOYMENT_NS: namespace,
    M2S_SELDON_NEURO_DEF_IMAGE: "registry.example.com/mlflow-wrapper:1.0",
    M2S_INCLUDE_MODELS: `${prefix}*`,
    M2S_OWNER: owner,
    ...settings,
  };
}

/** One series' value on the service's /metrics (0 when it has none yet). */
export async function metricValue(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** A `mlflow2seldon sync` process started by a test. */
export interface RunningService {
  child: ChildProcess;
  /** The port it serves health, readiness and metrics on. */
  port: number;
  /** Its stdout lines so far (JSON log records). */
  logs: string[];
  /** Its stderr lines so far. */
  stderr: string[];
  metric(series: string): Promise<number>;
  /** Whether the process has not exited. */
  alive(): boolean;
  /** SIGTERM (or `signal`), then its exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** Wait until this path answers 2xx (default /readyz: the first successful cycle); none: don't wait. */
  ready?: "/readyz" | "/healthz" | "none";
}

const running = new Set<RunningService>();

/** The lines a stream has written so far. */
function linesOf(stream: NodeJS.ReadableStream): string[] {
  const lines: string[] = [];
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  stream.on("end", () => partial && lines.push(partial));
  return lines;
}

/**
 * Starts `mlflow2seldon sync` with `env` and waits until it is ready. Unless `env` names
 * M2S_HTTP_PORT, the service binds a port of the system's choice (0), held from the start, and
 * the port is read from its start line (so its log level must show info).
 */
export async function startService(
  env: NodeJS.ProcessEnv,
  options: StartOptions = {},
): Promise<RunningService> {
  const child = spawn(process.execPath, [serviceBin, "sync"], {
    env: { ...env, M2S_HTTP_PORT: env.M2S_HTTP_PORT ?? "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [logs, stderr] = [linesOf(child.stdout!), linesOf(child.stderr!)];
  // "close": the process has exited and its output has been read to the end.
  const exited = once(child, "close");
  const alive = () => child.exitCode === null && child.signalCode === null;
  const exitedEarly = (waitingFor: string) =>
    new Error(
      `the service exited (${child.exitCode ?? child.signalCode}) before ${waitingFor}: ${stderr.join("\n").slice(-1000)}`,
    );
  const startLine = async () => {
    if (!alive()) return "exited";
    const line = logs.find((l) => l.includes('"msg":"sync service started"'));
    return line ? (JSON.parse(line).httpPort as number) : undefined;
  };
  const port =
    env.M2S_HTTP_PORT !== undefined
      ? Number(env.M2S_HTTP_PORT)
      : await eventually(
          "the service's start line, which names its port (log level info or debug)",
          startLine,
        );
  if (port === "exited") throw exitedEarly("it named its port");
  const service: RunningService = {
    child,
    port,
    logs,
    stderr,
    metric: (series) => metricValue(port, series),
    alive,
    async stop(signal = "SIGTERM") {
      running.delete(service);
      if (alive()) child.kill(signal);
      // A cycle in progress ends before the process does; a stuck one is not waited for.
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const [code] = await exited;
      clearTimeout(killer);
      return code as number | null;
    },
  };
  running.add(service);
  const ready = options.ready ?? "/readyz";
  if (ready === "none") return service;
  const answered = await eventually(`the service on port ${port} answering ${ready}`, async () =>
    alive() ? (await fetch(`http://127.0.0.1:${port}${ready}`)).ok && "ready" : "exited",
  );
  if (answered === "exited") throw exitedEarly(`answering ${ready}`);
  return service;
}

/** Stops every service still running (after each test file). */
export async function stopServices(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop()));
}
