// The engine's settings, shared by the sync service (from M2S_* environment variables) and the
// Pulumi program (from stack config). Each front maps its own names onto this one schema.
import { z } from "zod";
import { ConfigError } from "./errors";
import { rolloutSchema, type Rollout } from "./registry/rollout";
import { MIN_NAME_LENGTH } from "./plan/naming";
import { TARGETS, targetNames, type TargetName } from "./serving-targets";
import type { Resources } from "./vocabulary";

export const dns1123Label = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a DNS-1123 label (lower-case letters, digits and '-')");

const quantity = z.string().regex(/^[0-9.]+[a-zA-Z]*$/, "a Kubernetes quantity such as 500m or 1Gi");
export const resourcesSchema = z
  .object({
    requests: z.record(z.string(), quantity).optional(),
    limits: z.record(z.string(), quantity).optional(),
  })
  .strict() satisfies z.ZodType<Resources>;

/** (a) a wrapper image reading the model from mounted storage; (b) Seldon's prepackaged MLFLOW_SERVER. */
export const servingModes = ["wrapper-image", "mlflow-server"] as const;
export type ServingMode = (typeof servingModes)[number];

export const protocols = ["seldon", "v2"] as const;

/** KServe's deployment modes (v0.20 names; RawDeployment and Serverless are their older names). */
export const kserveDeploymentModes = ["Standard", "Knative"] as const;

export const engineSettingsSchema = z
  .object({
    /** The serving system written to: SeldonDeployment, KServe InferenceService or Seldon v2 Model. */
    target: z.enum(targetNames).default("seldon-v1"),
    /** Namespace of the serving objects. */
    namespace: dns1123Label,
    /** Stages whose latest version is served. */
    stages: z.array(z.string().min(1)).default(["Staging", "Production"]),
    /** Aliases whose version is served. */
    aliases: z.array(z.string().min(1)).default(["champion"]),
    /** Default wrapper image; when set, (a) is the default serving mode, as in the original. */
    defaultImage: z.string().min(1).optional(),
    /** Serving mode for every model unless a model's tag overrides it. */
    servingMode: z.enum(servingModes).optional(),
    /** Registered-model tag whose value overrides the wrapper image for that model. */
    imageTag: z.string().min(1).default("deployment-image"),
    /** Where the pod mounts the MLflow artifact storage (mode a), e.g. /mnt/mlflow. */
    storageRoot: z.string().min(1).default("/mnt/mlflow"),
    /** PersistentVolumeClaim holding the artifact storage, mounted at storageRoot (mode a). */
    storageClaim: dns1123Label.optional(),
    /** Artifact URI prefix of the storage, mapped onto storageRoot (mode a) or modelUriPrefix (mode b). */
    artifactRoot: z.string().min(1).default("mlflow-artifacts:/"),
    /** Object-store URI the pod reads artifactRoot as, for modelUri (mode b), e.g. s3://bucket/mlartifacts. */
    modelUriPrefix: z.string().min(1).optional(),
    /** Secret with object-store credentials: envSecretRefName (seldon-v1), secretName (seldon-v2). */
    credentialsSecret: dns1123Label.optional(),
    /** Service account of the serving pods, holding the object store's credentials (kserve). */
    serviceAccount: dns1123Label.optional(),
    replicas: z.number().int().min(0).default(1),
    resources: resourcesSchema.optional(),
    protocol: z.enum(protocols).default("seldon"),
    /**
     * KServe's deployment mode for the InferenceServices (annotation
     * serving.kserve.io/deploymentMode); unset: the cluster's default.
     */
    kserveDeploymentMode: z.enum(kserveDeploymentModes).optional(),
    /** A candidate version beside a slot's version in every model's object, unless a model's tag says otherwise. */
    canary: rolloutSchema.optional(),
    /** Value of the owner label: which front (service instance or Pulumi stack) owns an object. */
    owner: z.string().regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, "a label value"),
    /** Glob patterns of the model names this owner manages (default: all). */
    includeModels: z.array(z.string()).default(["*"]),
    /** Glob patterns of model names left to another owner. */
    excludeModels: z.array(z.string()).default([]),
  })
  .strict()
  .superRefine((s, ctx) => {
    // KServe and Seldon v2 read the model from its storage URI themselves.
    if (s.target !== "seldon-v1" && s.servingMode === "wrapper-image")
      ctx.addIssue({
        code: "custom",
        path: ["servingMode"],
        message: `wrapper-image serving needs the seldon-v1 target, not ${s.target}`,
      });
    const nameRoom = TARGETS[s.target].maxNameLength?.(s.namespace);
    if (nameRoom !== undefined && nameRoom < MIN_NAME_LENGTH)
      ctx.addIssue({
        code: "custom",
        path: ["namespace"],
        message: `"${s.namespace}" is too long for the ${s.target} target: object names would have ${nameRoom} characters (at least ${MIN_NAME_LENGTH} needed; KServe derives host names <name>-predictor-<namespace> of at most 63)`,
      });
    const unsupported = s.canary && rolloutUnsupported(s.target, s.canary.mode, s.kserveDeploymentMode);
    if (unsupported) ctx.addIssue({ code: "custom", path: ["canary"], message: unsupported });
  });
export type EngineSettings = z.infer<typeof engineSettingsSchema>;
export type EngineSettingsInput = z.input<typeof engineSettingsSchema>;

/** Why a target cannot serve a rollout of this mode (undefined: it can). */
export function rolloutUnsupported(
  target: TargetName,
  mode: Rollout["mode"],
  kserveDeploymentMode?: (typeof kserveDeploymentModes)[number],
): string | undefined {
  if (target === "seldon-v2") return "the seldon-v2 target serves one version per Model: no canary or shadow";
  if (target === "kserve" && mode === "shadow") return "the kserve target has no shadow: use a canary";
  // Only KServe's Knative reconciler reads canaryTrafficPercent; its Standard mode would roll the
  // whole InferenceService to the candidate.
  if (target === "kserve" && kserveDeploymentMode !== "Knative")
    return "a KServe canary splits traffic only in KServe's Knative mode (its Standard mode would send all traffic to the candidate): set the KServe deployment mode to Knative (M2S_KSERVE_DEPLOYMENT_MODE, stack config kserveDeploymentMode)";
  return undefined;
}

/**
 * Parses engine settings given under a front's own names (M2S_* variables, stack config keys):
 * `names` maps each field to the name the user sets, so every problem names it and its value.
 */
export function parseEngineSettings(
  input: Partial<Record<keyof EngineSettings, unknown>>,
  names: Record<keyof EngineSettings, string>,
): EngineSettings {
  const parsed = engineSettingsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const field = issue.path[0] as keyof EngineSettings;
      return {
        setting: names[field] ?? String(field),
        message: `${issue.message} (got ${JSON.stringify(input[field])})`,
      };
    }),
  );
}
