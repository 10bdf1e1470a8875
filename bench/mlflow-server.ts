// MLflow servers for the benchmark's registries (the testbed's own servers stay small for the
// tests), on one of two stores:
// - sqlite: the testbed's MLflow 3.6 on a file of its own, no authentication, plain HTTP;
// - postgresql: the newest MLflow 3 on a database of its own in the testbed's PostgreSQL cluster,
//   shaped as production runs it: MLflow's basic-auth app (the service reads as a user with the
//   default READ, the bench writes as the admin) and TLS with the testbed CA's certificate.
// Each store keeps cached snapshots of populated registries: a sqlite file, a pg_dump archive.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { MlflowClientOptions } from "../engine/registry/mlflow-client";
import { testbedSetting as setting } from "../testbed/setting";

export interface MlflowServer {
  url: string;
  /** A user who may write: the bench's registrations, promotions and webhooks. */
  admin: MlflowClientOptions;
  /** The service's MLflow settings. */
  serviceEnv: Record<string, string>;
  /** A consistent copy of the registry into `file`, taken while the server runs. */
  snapshot(file: string): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Names the server's files and database; unique within one bench run. */
  name: string;
  workDir: string;
  port: number;
  logFile: string;
  /** A snapshot to start from; an empty registry without it. */
  from?: string;
  /** Whether MLflow asks who is calling (postgresql only); population runs without it, for speed. */
  authenticated: boolean;
}

export interface RegistryStore {
  readonly name: "sqlite" | "postgresql";
  /** How the report names the server's version and store, e.g. "3.6.0 (SQLite)". */
  describe(): string;
  /** Keys cached snapshots: the MLflow version and its lock, the store. */
  snapshotKey(): string;
  readonly snapshotSuffix: string;
  /** Where the bench's version sources point; the server's serviceEnv maps it for the service. */
  readonly sourceRoot: string;
  start(options: StartOptions): Promise<MlflowServer>;
}

/** A venv's folder name carries its MLflow version and lock hash (venv-mlflow-3.6.0-229e7acbeb58). */
const venvOf = (python: string) => basename(dirname(dirname(python)));
const versionOf = (python: string) =>
  venvOf(python)
    .replace(/^venv-mlflow-/, "")
    .replace(/-[0-9a-f]+$/, "");

// Webhooks to the service on loopback; the webhook list cached 1 s (not 60) so a webhook
// registered just before the promotions receives them; one secret key for every worker.
const webhookEnv = () => ({
  MLFLOW_WEBHOOK_ALLOWED_SCHEMES: "http,https",
  MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS: "true",
  MLFLOW_WEBHOOK_CACHE_TTL: "1",
  // Fernet wants URL-safe base64 with its padding (Node's base64url drops it).
  MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: randomBytes(32)
    .toString("base64")
    .replace(/\+/g, "-")
    .replace(/\//g, "_"),
});

async function healthy(url: string, ca?: Buffer): Promise<boolean> {
  if (!ca) return fetch(`${url}/health`).then((r) => r.ok);
  return new Promise((resolve, reject) => {
    request(`${url}/health`, { ca }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    })
      .on("error", reject)
      .end();
  });
}

/** Starts `mlflow server` in its own process group and waits until /health answers. */
async function spawnServer(options: {
  python: string;
  args: string[];
  env: Record<string, string>;
  url: string;
  ca?: Buffer;
  logFile: string;
}): Promise<{ stop(): Promise<void> }> {
  const log = openSync(options.logFile, "a");
  const child: ChildProcess = spawn(join(dirname(options.python), "mlflow"), ["server", ...options.args], {
    stdio: ["ignore", log, log],
    detached: true,
    env: { ...process.env, ...options.env },
  });
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    process.kill(-child.pid, "SIGTERM");
    for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) await sleep(100);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
  };
  for (let waited = 0; ; waited += 250) {
    if (child.exitCode !== null)
      throw new Error(`MLflow server exited during start-up (log: ${options.logFile})`);
    if (await healthy(options.url, options.ca).catch(() => false)) return { stop };
    if (waited > 180_000) {
      await stop();
      throw new Error(`MLflow server not ready after 180 s (log: ${options.logFile})`);
    }
    await sleep(250);
  }
}

function run(command: string, args: string[], env: Record<string, string> = {}): void {
  const result = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
}

export const sqliteStore: RegistryStore = {
  name: "sqlite",
  describe: () => `${versionOf(setting("M2S_TESTBED_PYTHON"))} (SQLite)`,
  snapshotKey: () => venvOf(setting("M2S_TESTBED_PYTHON")),
  snapshotSuffix: "db",
  sourceRoot: "mlflow-artifacts:/bench",
  async start({ name, workDir, port, logFile, from }) {
    const dir = join(workDir, name);
    mkdirSync(join(dir, "artifacts"), { recursive: true });
    const database = join(dir, "mlflow.db");
    if (from) copyFileSync(from, database);
    const url = `http://127.0.0.1:${port}`;
    const python = setting("M2S_TESTBED_PYTHON");
    const server = await spawnServer({
      python,
      url,
      logFile,
      env: webhookEnv(),
      args: [
        ["--backend-store-uri", `sqlite:///${database}`],
        ["--artifacts-destination", join(dir, "artifacts"), "--serve-artifacts"],
        ["--host", "127.0.0.1", "--port", String(port), "--workers", "2"],
        ["--allowed-hosts", "127.0.0.1:*,localhost:*"],
      ].flat(),
    });
    return {
      url,
      admin: { url },
      serviceEnv: { M2S_MLFLOW_HOST: url },
      snapshot(file) {
        const script =
          "import sqlite3,sys\ns=sqlite3.connect(sys.argv[1]);d=sqlite3.connect(sys.argv[2])\ns.backup(d);d.close()";
        run(python, ["-c", script, database, file]);
      },
      async stop() {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** psql, pg_dump and pg_restore against the testbed's cluster (its password in the environment, not argv). */
function postgres() {
  const uri = new URL(setting("M2S_TESTBED_POSTGRES_URI"));
  const env = { PGPASSWORD: decodeURIComponent(uri.password) };
  const connection = ["-h", uri.hostname, "-p", uri.port, "-U", decodeURIComponent(uri.username)];
  const sql = (statement: string) =>
    run("psql", [...connection, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", statement], env);
  return {
    /** SQLAlchemy's URL of one database (psycopg2). */
    databaseUri: (database: string) =>
      `postgresql+psycopg2://${uri.username}:${uri.password}@${uri.host}/${database}`,
    recreate(database: string) {
      sql(`drop database if exists ${database} with (force)`);
      sql(`create database ${database}`);
    },
    drop: (database: string) => sql(`drop database if exists ${database} with (force)`),
    dump: (database: string, file: string) =>
      run("pg_dump", [...connection, "-d", database, "-Fc", "-f", file], env),
    restore: (database: string, file: string) =>
      run("pg_restore", [...connection, "-d", database, "--no-owner", "--single-transaction", file], env),
  };
}

const READER = "m2s-bench-reader";
/** MLflow's cache of checked credentials (off by default). */
export const AUTH_CACHE_TTL_SECONDS = 60;

export const postgresqlStore: RegistryStore = {
  name: "postgresql",
  describe: () =>
    `${versionOf(setting("M2S_TESTBED_MLFLOW_PROD_PYTHON"))} (PostgreSQL, basic-auth with a ${AUTH_CACHE_TTL_SECONDS} s credential cache, TLS)`,
  snapshotKey: () => `${venvOf(setting("M2S_TESTBED_MLFLOW_PROD_PYTHON"))}-postgresql`,
  snapshotSuffix: "pgdump",
  // MLflow 3.17 takes an mlflow-artifacts:/ source only with the run that holds it: the bench's
  // versions name their object-store location.
  sourceRoot: "s3://mlflow/bench",
  async start({ name, workDir, port, logFile, from, authenticated }) {
    const pg = postgres();
    const database = `bench_${name.replace(/\W/g, "_")}`;
    const authDatabase = `${database}_auth`;
    pg.recreate(database);
    if (from) pg.restore(database, from);
    const dir = join(workDir, name);
    mkdirSync(join(dir, "artifacts"), { recursive: true });
    const scheme = authenticated ? "https" : "http";
    const url = `${scheme}://127.0.0.1:${port}`;
    const caFile = setting("M2S_TESTBED_MLFLOW_PROD_CA");
    const adminPassword = randomBytes(12).toString("hex");
    const readerPassword = randomBytes(12).toString("hex");
    const env: Record<string, string> = webhookEnv();
    const args = [
      ["--backend-store-uri", pg.databaseUri(database)],
      ["--artifacts-destination", join(dir, "artifacts")],
      ["--host", "127.0.0.1", "--port", String(port), "--workers", "2"],
      ["--allowed-hosts", "127.0.0.1:*,localhost:*"],
    ].flat();
    if (authenticated) {
      pg.recreate(authDatabase);
      const authConfig = join(dir, "auth.ini");
      writeFileSync(
        authConfig,
        [
          "[mlflow]",
          "default_permission = READ",
          `database_uri = ${pg.databaseUri(authDatabase)}`,
          "admin_username = admin",
          `admin_password = ${adminPassword}`,
          "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
          // Without it MLflow hashes the password on every request: about half a second of the
          // server's CPU each on this machine, so a 5,000-model cold cycle took 15 minutes
          // (README, "MLflow setups tested"). A service asking every second wants it on.
          `auth_cache_ttl_seconds = ${AUTH_CACHE_TTL_SECONDS}`,
        ].join("\n"),
        { mode: 0o600 },
      );
      Object.assign(env, {
        MLFLOW_AUTH_CONFIG_PATH: authConfig,
        MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(16).toString("hex"),
      });
      args.push(
        "--app-name",
        "basic-auth",
        "--uvicorn-opts",
        `--ssl-keyfile ${setting("M2S_TESTBED_MLFLOW_PROD_TLS_KEY")} --ssl-certfile ${setting("M2S_TESTBED_MLFLOW_PROD_TLS_CERT")}`,
      );
    }
    const server = await spawnServer({
      python: setting("M2S_TESTBED_MLFLOW_PROD_PYTHON"),
      url,
      ca: authenticated ? readFileSync(caFile) : undefined,
      logFile,
      env,
      args,
    });
    const stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      pg.drop(database);
      if (authenticated) pg.drop(authDatabase);
    };
    const admin: MlflowClientOptions = authenticated
      ? { url, username: "admin", password: adminPassword, caFile }
      : { url };
    if (authenticated) {
      // The service's user: MLflow's default READ on every model, nothing more.
      const response = await new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ username: READER, password: readerPassword });
        request(
          `${url}/api/2.0/mlflow/users/create`,
          {
            method: "POST",
            ca: readFileSync(caFile),
            auth: `admin:${adminPassword}`,
            headers: { "content-type": "application/json" },
          },
          (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          },
        )
          .on("error", reject)
          .end(body);
      }).catch(async (error: unknown) => {
        await stop();
        throw error;
      });
      if (response !== 200) {
        await stop();
        throw new Error(`creating the MLflow user ${READER} answered HTTP ${response} (log: ${logFile})`);
      }
    }
    return {
      url,
      admin,
      serviceEnv: {
        M2S_MLFLOW_HOST: url,
        M2S_MLFLOW_ARTIFACT_ROOT: "s3://mlflow",
        ...(authenticated
          ? { M2S_MLFLOW_USERNAME: READER, M2S_MLFLOW_PASSWORD: readerPassword, M2S_MLFLOW_CA_FILE: caFile }
          : {}),
      },
      snapshot: (file) => pg.dump(database, file),
      stop,
    };
  },
};

export const registryStores = { sqlite: sqliteStore, postgresql: postgresqlStore } as const;
