// The Pulumi program's configuration (namespace `mlflow2seldon:`), validated with zod at program
// start. Every problem names the key and how to set it.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ConfigError } from "../engine/errors";
import { dns1123Label, parseEngineSettings, resourcesSchema, type EngineSettings } from "../engine/settings";

export const CONFIG_NAMESPACE = "mlflow2seldon";

const stringList = z.array(z.string().min(1));

export const stackConfigSchema = z.object({
  mlflowUrl: z.url({ message: "an http(s) URL of the MLflow tracking server" }),
  mlflowUsername: z.string().min(1).optional(),
  /**
   * PEM of the CA that signed MLflow's certificate, when it is not a public one: the program
   * trusts it for its snapshot, and the service gets it mounted (M2S_MLFLOW_CA_FILE).
   */
  mlflowCaCertificate: z
    .string()
    .refine(
      (pem) => pem.includes("-----BEGIN CERTIFICATE-----"),
      "a PEM certificate (-----BEGIN CERTIFICATE-----)",
    )
    .optional(),
  kubeContext: z.string().min(1).optional(),
  deployService: z.boolean().default(true),
  snapshotModels: z.boolean().default(true),
  serviceImage: z.string().min(1).default("mlflow2seldon:0.1.0"),
  serviceNamespace: dns1123Label.default("mlflow2seldon"),
  deploymentNamespace: dns1123Label.default("seldon"),
  // Engine settings: validated, with their defaults, by the engine's schema (see index.ts).
  target: z.string().optional(),
  serviceAccount: z.string().optional(),
  stages: stringList.optional(),
  aliases: stringList.optional(),
  servingMode: z.string().optional(),
  wrapperImage: z.string().optional(),
  imageTag: z.string().optional(),
  storageRoot: z.string().optional(),
  storageClaim: z.string().optional(),
  artifactRoot: z.string().optional(),
  modelUriPrefix: z.string().optional(),
  credentialsSecret: z.string().optional(),
  replicas: z.number().optional(),
  protocol: z.string().optional(),
  kserveDeploymentMode: z.string().optional(),
  resources: z.unknown().optional(),
  canary: z.unknown().optional(),
  /** Glob patterns of the models this stack snapshots; the sync service manages the others. */
  stackModels: stringList.default(["*"]),
  syncIntervalSeconds: z.number().positive().default(30),
  /** The service's delta poll period (M2S_DELTA_POLL_SECONDS; its default when unset). */
  deltaPollSeconds: z.number().min(0).optional(),
  /** The service's webhook URL as MLflow reaches it (M2S_WEBHOOK_URL; needs webhookSecret). */
  webhookUrl: z.url().optional(),
  clusterWideRbac: z.boolean().default(false),
  /** Replicas of the service; more than one elect a leader (the component's default when unset). */
  serviceReplicas: z.number().int().min(1).optional(),
  /** The service container's requests and limits (the component's defaults when unset). */
  serviceResources: resourcesSchema.optional(),
  /** Do not wait for workloads to become ready (clusters without nodes, such as the testbed). */
  skipAwait: z.boolean().default(false),
});
export type StackConfig = z.infer<typeof stackConfigSchema>;

const example: Partial<Record<keyof StackConfig, string>> = {
  mlflowUrl: "http://mlflow.mlflow.svc:5000",
  mlflowCaCertificate: `-- "$(cat mlflow-ca.crt)"`,
  stages: `'["Production"]'`,
  aliases: `'["champion"]'`,
  stackModels: `'["fraud-*"]'`,
  resources: `'{"limits":{"cpu":"1","memory":"1Gi"}}'`,
  serviceResources: `'{"limits":{"memory":"1Gi"}}'`,
  replicas: "2",
  canary: `'{"from":"Staging","percent":10}'`,
};

/** Reads and validates the stack's config; `read(key)` returns the raw value (strings or JSON). */
export function parseStackConfig(read: (key: string) => string | undefined): StackConfig {
  const raw: Record<string, unknown> = {};
  const problems: { setting: string; message: string }[] = [];
  for (const [key, schema] of Object.entries(stackConfigSchema.shape)) {
    const text = read(key);
    if (text === undefined) continue;
    const expectsString = schema.safeParse("x").success || schema.safeParse("http://x").success;
    try {
      raw[key] = expectsString ? text : JSON.parse(text);
    } catch {
      raw[key] = text;
    }
  }
  const parsed = stackConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const key = String(issue.path[0]);
    const hint = example[key as keyof StackConfig] ?? "VALUE";
    const got = raw[key] === undefined ? "missing" : `got ${JSON.stringify(raw[key])}`;
    problems.push({
      setting: `${CONFIG_NAMESPACE}:${key}`,
      message: `${issue.message} (${got}); set it with: pulumi config set ${CONFIG_NAMESPACE}:${key} ${hint}`,
    });
  }
  throw new ConfigError(problems);
}

/** The stack's config, read through Pulumi (secrets are read without exposing them in outputs). */
export function loadStackConfig(): StackConfig {
  return parseStackConfig((key) => pulumi.runtime.getConfig(`${CONFIG_NAMESPACE}:${key}`));
}

/** Secret settings: kept as secret Outputs for Kubernetes Secrets, plain only for program-time reads. */
export function stackSecrets() {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  return {
    mlflowToken: config.getSecret("mlflowToken"),
    mlflowPassword: config.getSecret("mlflowPassword"),
    /** Shared secret of MLflow's webhooks to the service (M2S_WEBHOOK_SECRET). */
    webhookSecret: config.getSecret("webhookSecret"),
    /** kubeconfig content of the target cluster, instead of a context of the local kubeconfig. */
    kubeconfig: config.getSecret("kubeconfig"),
    plain: {
      token: pulumi.runtime.getConfig(`${CONFIG_NAMESPACE}:mlflowToken`),
      password: pulumi.runtime.getConfig(`${CONFIG_NAMESPACE}:mlflowPassword`),
      kubeconfig: pulumi.runtime.getConfig(`${CONFIG_NAMESPACE}:kubeconfig`),
    },
  };
}

/** The stack config key behind each engine setting (the owner and model filters come from the stack). */
const ENGINE_SETTING_KEYS: Record<keyof EngineSettings, string> = {
  target: "target",
  namespace: "deploymentNamespace",
  stages: "stages",
  aliases: "aliases",
  defaultImage: "wrapperImage",
  servingMode: "servingMode",
  imageTag: "imageTag",
  storageRoot: "storageRoot",
  storageClaim: "storageClaim",
  artifactRoot: "artifactRoot",
  modelUriPrefix: "modelUriPrefix",
  credentialsSecret: "credentialsSecret",
  serviceAccount: "serviceAccount",
  replicas: "replicas",
  resources: "resources",
  canary: "canary",
  protocol: "protocol",
  kserveDeploymentMode: "kserveDeploymentMode",
  owner: "(stack name)",
  includeModels: "stackModels",
  excludeModels: "(none)",
};

/** The engine settings of this stack's snapshot; problems name the config key. */
export function stackEngineSettings(config: StackConfig, owner: string): EngineSettings {
  const input: Partial<Record<keyof EngineSettings, unknown>> = { owner, excludeModels: [] };
  for (const [field, key] of Object.entries(ENGINE_SETTING_KEYS) as [keyof EngineSettings, string][])
    if (key in config) input[field] = config[key as keyof StackConfig];
  const names = Object.fromEntries(
    Object.entries(ENGINE_SETTING_KEYS).map(([field, key]) => [field, `${CONFIG_NAMESPACE}:${key}`]),
  ) as Record<keyof EngineSettings, string>;
  return parseEngineSettings(input, names);
}
