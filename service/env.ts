// The sync service's configuration from environment variables, validated with zod. The
// original service's M2S_* names keep their meaning; every problem names its variable.
import { accessSync, constants } from "node:fs";
import { hostname } from "node:os";
import { z } from "zod";
import type { MlflowClientOptions } from "../engine/registry/mlflow-client";
import { DEFAULT_MAX_DELETIONS } from "../engine/deletion";
import { ConfigError } from "../engine/errors";
import { parseEngineSettings, type EngineSettings } from "../engine/settings";
import type { LeaderElectionSettings } from "./leader";

// Engine settings are only mapped here (comma lists, JSON): their defaults and validation live in
// the engine's schema, so the service, the stack config and the library agree.
const list = z
  .string()
  .optional()
  .transform((text) =>
    text === undefined
      ? undefined
      : text
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
  );
const optional = z.string().trim().min(1).optional();
const json = (example: string) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `JSON such as ${example}` });
        return z.NEVER;
      }
    });
const optionalInt = z.coerce.number().int().optional();
const URL_EXAMPLE = "an http(s) URL such as http://mlflow:5000";
/** A tracking server URL; `host:port` gets http://, any scheme but http(s) is refused. */
const trackingUrl = z
  .string()
  .trim()
  .min(1, URL_EXAMPLE)
  .optional()
  .refine(
    (v) => v === undefined || /^https?:\/\//i.test(v) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(v),
    URL_EXAMPLE,
  )
  .transform((v) => (v === undefined || /^https?:\/\//i.test(v) ? v : `http://${v}`))
  .pipe(z.url({ message: URL_EXAMPLE }).optional());
/** A file the service reads at start-up: checked here, so a typo is a configuration error. */
const readableFile = z
  .string()
  .trim()
  .min(1)
  .optional()
  .refine((path) => {
    if (path === undefined) return true;
    try {
      accessSync(path, constants.R_OK);
      return true;
    } catch {
      return false;
    }
  }, "a readable file");
const port = z.coerce.number().int().min(0).max(65535);
const positive = (fallback: number) => z.coerce.number().positive().default(fallback);
const flag = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "true or false" })
  .default("false")
  .transform((v) => ["true", "1", "yes"].includes(v));

/** Every variable the service reads, with its default. Documented in the README's table. */
export const serviceEnvSchema = z.object({
  // M2S_MLFLOW_HOST, or MLFLOW_TRACKING_URI as every MLflow client reads it.
  M2S_MLFLOW_HOST: trackingUrl,
  MLFLOW_TRACKING_URI: trackingUrl,
  M2S_MLFLOW_TOKEN: optional,
  MLFLOW_TRACKING_TOKEN: optional,
  M2S_MLFLOW_USERNAME: optional,
  MLFLOW_TRACKING_USERNAME: optional,
  M2S_MLFLOW_PASSWORD: optional,
  MLFLOW_TRACKING_PASSWORD: optional,
  M2S_MLFLOW_CA_FILE: readableFile,
  MLFLOW_TRACKING_SERVER_CERT_PATH: readableFile,
  M2S_MLFLOW_TIMEOUT_SECONDS: positive(10),
  M2S_MLFLOW_STORAGE_ROOT: optional,
  M2S_MLFLOW_STORAGE_CLAIM: optional,
  M2S_MLFLOW_ARTIFACT_ROOT: optional,
  M2S_MLFLOW_DEPLOY_IMG_TAG: optional,
  M2S_SELDON_NEURO_DEF_IMAGE: optional,
  M2S_SELDON_DEPLOYMENT_NS: z.string().default("seldon"),
  M2S_TARGET: optional,
  M2S_SERVICE_ACCOUNT: optional,
  M2S_SRC_NEURO_CLUSTER: optional,
  M2S_SERVING_MODE: optional,
  M2S_MODEL_URI_PREFIX: optional,
  M2S_SELDON_CREDENTIALS_SECRET: optional,
  M2S_STAGES: list,
  M2S_ALIASES: list,
  M2S_REPLICAS: optionalInt,
  M2S_PROTOCOL: optional,
  M2S_KSERVE_DEPLOYMENT_MODE: optional,
  M2S_RESOURCES: json('{"limits":{"cpu":"1","memory":"1Gi"}}'),
  M2S_CANARY: json('{"from":"Staging","percent":10}'),
  /** Default: service-<POD_NAMESPACE> (one per install), or service outside a cluster. */
  M2S_OWNER: optional,
  M2S_INCLUDE_MODELS: list,
  M2S_EXCLUDE_MODELS: list,
  M2S_SYNC_INTERVAL_SECONDS: positive(30),
  M2S_DELTA_POLL_SECONDS: z.coerce.number().min(0).default(1),
  M2S_WATCH: flag.default(true),
  /** Several replicas: only the holder of a Lease writes (client-go's leader election). */
  M2S_LEADER_ELECTION: flag,
  M2S_LEASE_NAME: optional,
  M2S_LEASE_NAMESPACE: optional,
  M2S_LEASE_DURATION_SECONDS: positive(15),
  M2S_RENEW_DEADLINE_SECONDS: positive(10),
  M2S_RETRY_PERIOD_SECONDS: positive(2),
  /** The pod's name and namespace (downward API): the leader's identity and the Lease's namespace. */
  POD_NAME: optional,
  POD_NAMESPACE: optional,
  /** Shared secret of MLflow's webhooks: set, the service receives them on POST /webhooks/mlflow. */
  M2S_WEBHOOK_SECRET: z.string().min(16, "at least 16 characters").optional(),
  /** The receiver's URL as MLflow reaches it: set, the service registers its webhook at start-up. */
  M2S_WEBHOOK_URL: z
    .url({ message: "an http(s) URL such as http://mlflow2seldon.ml.svc:8080/webhooks/mlflow" })
    .optional(),
  M2S_SYNC_JITTER: z.coerce.number().min(0).max(1).default(0.1),
  M2S_MAX_BACKOFF_SECONDS: positive(300),
  M2S_WRITE_BACK: flag,
  M2S_HTTP_PORT: port.default(8080),
  /** A port of its own for the status page; without it the page is on M2S_HTTP_PORT unless webhooks are on. */
  M2S_STATUS_PORT: port.optional(),
  /** Deletions one cycle may make: more planned and it makes none (0: never delete). */
  M2S_MAX_DELETIONS: z.coerce.number().int().min(0).default(DEFAULT_MAX_DELETIONS),
  M2S_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error"]).default("info"),
  M2S_KUBE_CONTEXT: optional,
});

/** The M2S_* variable behind each engine setting (both directions use it). */
export const ENGINE_SETTING_ENV = {
  target: "M2S_TARGET",
  namespace: "M2S_SELDON_DEPLOYMENT_NS",
  stages: "M2S_STAGES",
  aliases: "M2S_ALIASES",
  defaultImage: "M2S_SELDON_NEURO_DEF_IMAGE",
  servingMode: "M2S_SERVING_MODE",
  imageTag: "M2S_MLFLOW_DEPLOY_IMG_TAG",
  storageRoot: "M2S_MLFLOW_STORAGE_ROOT",
  storageClaim: "M2S_MLFLOW_STORAGE_CLAIM",
  artifactRoot: "M2S_MLFLOW_ARTIFACT_ROOT",
  modelUriPrefix: "M2S_MODEL_URI_PREFIX",
  credentialsSecret: "M2S_SELDON_CREDENTIALS_SECRET",
  serviceAccount: "M2S_SERVICE_ACCOUNT",
  replicas: "M2S_REPLICAS",
  resources: "M2S_RESOURCES",
  canary: "M2S_CANARY",
  protocol: "M2S_PROTOCOL",
  kserveDeploymentMode: "M2S_KSERVE_DEPLOYMENT_MODE",
  owner: "M2S_OWNER",
  includeModels: "M2S_INCLUDE_MODELS",
  excludeModels: "M2S_EXCLUDE_MODELS",
} as const satisfies Record<keyof EngineSettings, keyof z.infer<typeof serviceEnvSchema>>;

/** The M2S_* variables that give a sync service these engine settings (for deploying one). */
export function engineSettingsEnv(settings: EngineSettings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [field, name] of Object.entries(ENGINE_SETTING_ENV) as [keyof EngineSettings, string][]) {
    const value = settings[field];
    if (value === undefined) continue;
    env[name] = Array.isArray(value)
      ? value.join(",")
      : typeof value === "object"
        ? JSON.stringify(value)
        : String(value);
  }
  return env;
}

export interface ServiceConfig {
  mlflow: MlflowClientOptions;
  engine: EngineSettings;
  /** Least time between two full reads of the registry (more when a full read is costly). */
  intervalMs: number;
  /** Period of the delta poll between full reads; 0 turns it off. */
  deltaPollMs: number;
  /** Watch the owned objects and repair what someone else changes at once. */
  watch: boolean;
  /** Leader election among replicas (absent: this process always writes). */
  leaderElection?: LeaderElectionSettings;
  /** MLflow webhooks: the shared secret, and the URL to register (optional). */
  webhook?: { secret: string; url?: string };
  jitter: number;
  maxBackoffMs: number;
  writeBack: boolean;
  /** Deletions one cycle may make (engine/deletion.ts). */
  maxDeletions: number;
  /** Health, readiness, metrics and webhook deliveries. */
  httpPort: number;
  /** Where the status page is served: a port of its own, the HTTP port, or nowhere. */
  statusPage: { port: number } | "http-port" | "off";
  logLevel: string;
  kubeContext?: string;
  sourceCluster?: string;
}

/**
 * The owner label of an install that sets none: one per namespace it runs in, so two installs
 * writing to one deployment namespace never take each other's objects for their own.
 */
function defaultOwner(podNamespace: string | undefined): string {
  return podNamespace ? `service-${podNamespace}`.slice(0, 63).replace(/[-_.]+$/, "") : "service";
}

function issuesOf(error: z.ZodError, values: Record<string, unknown>) {
  return error.issues.map((issue) => {
    const setting = String(issue.path[0] ?? "(environment)");
    const value = values[setting];
    const shown =
      value === undefined
        ? ""
        : ` (got ${JSON.stringify(/PASSWORD|TOKEN|SECRET/.test(setting) ? "***" : value)})`;
    return { setting, message: `${issue.message}${shown}` };
  });
}

export function parseServiceEnv(env: NodeJS.ProcessEnv): ServiceConfig {
  const parsed = serviceEnvSchema.safeParse(env);
  // Every problem at once: the engine settings are checked even when another variable is wrong.
  const problems = parsed.success ? [] : issuesOf(parsed.error, env);
  const mapped = (name: keyof typeof serviceEnvSchema.shape) => {
    const value = serviceEnvSchema.shape[name].safeParse(env[name]);
    return value.success ? value.data : undefined;
  };
  let engine: EngineSettings | undefined;
  try {
    const fields = Object.entries(ENGINE_SETTING_ENV) as [
      keyof EngineSettings,
      keyof typeof serviceEnvSchema.shape,
    ][];
    engine = parseEngineSettings(
      {
        ...Object.fromEntries(fields.map(([field, name]) => [field, mapped(name)])),
        owner: mapped("M2S_OWNER") ?? defaultOwner(mapped("POD_NAMESPACE") as string | undefined),
      },
      ENGINE_SETTING_ENV,
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const reported = new Set(problems.map((p) => p.setting));
    problems.push(...error.problems.filter((p) => !reported.has(p.setting)));
  }
  const url = parsed.success ? (parsed.data.M2S_MLFLOW_HOST ?? parsed.data.MLFLOW_TRACKING_URI) : undefined;
  if (parsed.success && !url)
    problems.push({
      setting: "M2S_MLFLOW_HOST",
      message: `required (or MLFLOW_TRACKING_URI): ${URL_EXAMPLE}`,
    });
  if (parsed.success && parsed.data.M2S_RENEW_DEADLINE_SECONDS >= parsed.data.M2S_LEASE_DURATION_SECONDS)
    problems.push({
      setting: "M2S_RENEW_DEADLINE_SECONDS",
      message: `must be shorter than M2S_LEASE_DURATION_SECONDS (${parsed.data.M2S_LEASE_DURATION_SECONDS})`,
    });
  if (parsed.success && parsed.data.M2S_WEBHOOK_URL && !parsed.data.M2S_WEBHOOK_SECRET)
    problems.push({
      setting: "M2S_WEBHOOK_URL",
      message: "needs M2S_WEBHOOK_SECRET (the webhook's shared secret)",
    });
  if (!parsed.success || !engine || !url || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    mlflow: {
      url,
      token: e.M2S_MLFLOW_TOKEN ?? e.MLFLOW_TRACKING_TOKEN,
      username: e.M2S_MLFLOW_USERNAME ?? e.MLFLOW_TRACKING_USERNAME,
      password: e.M2S_MLFLOW_PASSWORD ?? e.MLFLOW_TRACKING_PASSWORD,
      caFile: e.M2S_MLFLOW_CA_FILE ?? e.MLFLOW_TRACKING_SERVER_CERT_PATH,
      timeoutMs: e.M2S_MLFLOW_TIMEOUT_SECONDS * 1000,
    },
    engine,
    intervalMs: e.M2S_SYNC_INTERVAL_SECONDS * 1000,
    deltaPollMs: e.M2S_DELTA_POLL_SECONDS * 1000,
    watch: e.M2S_WATCH,
    leaderElection: e.M2S_LEADER_ELECTION
      ? {
          name: e.M2S_LEASE_NAME ?? `mlflow2seldon-${engine.owner}`,
          namespace: e.M2S_LEASE_NAMESPACE ?? e.POD_NAMESPACE ?? engine.namespace,
          identity: e.POD_NAME ?? `${hostname()}-${process.pid}`,
          leaseDurationMs: e.M2S_LEASE_DURATION_SECONDS * 1000,
          renewDeadlineMs: e.M2S_RENEW_DEADLINE_SECONDS * 1000,
          retryPeriodMs: e.M2S_RETRY_PERIOD_SECONDS * 1000,
        }
      : undefined,
    webhook: e.M2S_WEBHOOK_SECRET ? { secret: e.M2S_WEBHOOK_SECRET, url: e.M2S_WEBHOOK_URL } : undefined,
    jitter: e.M2S_SYNC_JITTER,
    maxBackoffMs: e.M2S_MAX_BACKOFF_SECONDS * 1000,
    writeBack: e.M2S_WRITE_BACK,
    maxDeletions: e.M2S_MAX_DELETIONS,
    httpPort: e.M2S_HTTP_PORT,
    // Where MLflow reaches the webhook port, so may anyone: the page moves off it (or away).
    statusPage:
      e.M2S_STATUS_PORT !== undefined
        ? { port: e.M2S_STATUS_PORT }
        : e.M2S_WEBHOOK_SECRET
          ? "off"
          : "http-port",
    logLevel: e.M2S_LOG_LEVEL,
    kubeContext: e.M2S_KUBE_CONTEXT,
    sourceCluster: e.M2S_SRC_NEURO_CLUSTER,
  };
}
