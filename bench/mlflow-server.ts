// An MLflow server of the testbed's version on its own sqlite file, for the benchmark's
// registries (the testbed's own server stays small for the tests).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface MlflowServer {
  url: string;
  stop(): Promise<void>;
}

/** The testbed's Python: its venv folder name carries the MLflow version and lock hash. */
export function testbedPython(): string {
  const python = process.env.M2S_TESTBED_PYTHON;
  if (!python) throw new Error("M2S_TESTBED_PYTHON is not set: load .testbed/env (make testbed-up)");
  return python;
}

export const venvKey = () => basename(dirname(dirname(testbedPython())));

export async function startMlflowServer(options: {
  database: string;
  port: number;
  logFile: string;
}): Promise<MlflowServer> {
  const mlflow = join(dirname(testbedPython()), "mlflow");
  const artifacts = join(dirname(options.database), "artifacts");
  mkdirSync(artifacts, { recursive: true });
  const log = openSync(options.logFile, "a");
  const child: ChildProcess = spawn(
    mlflow,
    [
      "server",
      "--backend-store-uri",
      `sqlite:///${options.database}`,
      "--artifacts-destination",
      artifacts,
      "--serve-artifacts",
      "--host",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--workers",
      "2",
      "--allowed-hosts",
      "127.0.0.1:*,localhost:*",
    ],
    {
      stdio: ["ignore", log, log],
      detached: true,
      // Webhooks to the service on loopback; the webhook list cached 1 s (not 60) so a webhook
      // registered at the service's start receives the next event; one secret key for both workers.
      env: {
        ...process.env,
        MLFLOW_WEBHOOK_ALLOWED_SCHEMES: "http,https",
        MLFLOW_WEBHOOK_CACHE_TTL: "1",
        // Fernet wants URL-safe base64 with its padding (Node's base64url drops it).
        MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: randomBytes(32)
          .toString("base64")
          .replace(/\+/g, "-")
          .replace(/\//g, "_"),
      },
    },
  );
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    process.kill(-child.pid, "SIGTERM");
    for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
  };
  for (let waited = 0; ; waited += 250) {
    if (child.exitCode !== null)
      throw new Error(`MLflow server exited during start-up (log: ${options.logFile})`);
    try {
      if ((await fetch(`${url}/health`)).ok) return { url, stop };
    } catch {
      // not listening yet
    }
    if (waited > 180_000) {
      await stop();
      throw new Error(`MLflow server not ready after 180 s (log: ${options.logFile})`);
    }
    await sleep(250);
  }
}

/** A consistent copy of a sqlite database, taken while a server may be writing to it. */
export function backupSqlite(from: string, to: string): void {
  const script =
    "import sqlite3,sys\ns=sqlite3.connect(sys.argv[1]);d=sqlite3.connect(sys.argv[2])\ns.backup(d);d.close()";
  const result = spawnSync(testbedPython(), ["-c", script, from, to], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`sqlite backup ${from} -> ${to} failed: ${result.stderr}`);
}
