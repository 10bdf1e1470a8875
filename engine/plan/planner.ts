// Registry snapshot + settings -> the desired serving objects of the target. Pure: no I/O, no clock.
import { z } from "zod";
import { buildServingObject } from "./manifest";
import { deploymentName, modelLabel } from "./naming";
import {
  resourcesSchema,
  protocols,
  rolloutUnsupported,
  servingModes,
  type EngineSettings,
  type ServingMode,
} from "../settings";
import { CANARY_TAG } from "../registry/rollout";
import { TARGETS } from "../serving-targets";
import type { RegistrySnapshot } from "../registry/slots";
import { type ServingObject, type Serving, type Candidate, slotDescription } from "../vocabulary";

/** A slot that could not be planned; its existing deployment is kept, never deleted. */
export interface PlanProblem {
  model: string;
  slot: string;
  message: string;
}

/** One object the engine wants, with what it serves as data (callers never parse it back). */
export interface PlannedDeployment {
  model: string;
  /** stage:Production or alias:champion */
  slot: string;
  version: string;
  /** A candidate version served beside `version` in the same object. */
  candidate?: Candidate;
  object: ServingObject;
}

export interface Plan {
  desired: PlannedDeployment[];
  problems: PlanProblem[];
  /** Model labels whose existing objects must be kept because planning them failed. */
  retainedModels: Set<string>;
}

/** Registered-model tags that override settings for one model. */
export const MODEL_TAGS = {
  servingMode: "mlflow2seldon.serving-mode",
  replicas: "mlflow2seldon.replicas",
  protocol: "mlflow2seldon.protocol",
  resources: "mlflow2seldon.resources",
  canary: CANARY_TAG,
} as const;

const tagSchemas = {
  [MODEL_TAGS.servingMode]: z.enum(servingModes),
  [MODEL_TAGS.replicas]: z.coerce.number().int().min(0).max(100),
  [MODEL_TAGS.protocol]: z.enum(protocols),
  [MODEL_TAGS.resources]: z.string().transform((text, ctx) => {
    try {
      return resourcesSchema.parse(JSON.parse(text));
    } catch {
      ctx.addIssue({ code: "custom", message: 'JSON such as {"limits":{"cpu":"1"}}' });
      return z.NEVER;
    }
  }),
};

class TagError extends Error {}

function tagOverride<K extends keyof typeof tagSchemas>(
  tags: Record<string, string>,
  key: K,
): z.infer<(typeof tagSchemas)[K]> | undefined {
  const raw = tags[key];
  if (raw === undefined) return undefined;
  const parsed = tagSchemas[key].safeParse(raw);
  if (!parsed.success) {
    throw new TagError(`tag ${key}=${JSON.stringify(raw)} is invalid: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data as z.infer<(typeof tagSchemas)[K]>;
}

/** Maps an artifact URI under the registry's artifact root onto another prefix. */
function underRoot(artifactUri: string, root: string, target: string): string | undefined {
  const normalizedRoot = root.endsWith("/") ? root : `${root}/`;
  if (!artifactUri.startsWith(normalizedRoot)) return undefined;
  return `${target.replace(/\/+$/, "")}/${artifactUri.slice(normalizedRoot.length).replace(/^\/+/, "")}`;
}

const OBJECT_STORE = /^(s3|gs|gcs|wasbs?|abfss?|azure|oss|https?):\/\//;

function servingFor(
  modelTags: Record<string, string>,
  artifactUri: string,
  mode: ServingMode,
  settings: EngineSettings,
): Serving {
  if (mode === "wrapper-image") {
    const image = modelTags[settings.imageTag] || settings.defaultImage;
    if (!image) {
      throw new TagError(`no wrapper image: set the default image or the model tag ${settings.imageTag}`);
    }
    const modelPath =
      underRoot(artifactUri, settings.artifactRoot, settings.storageRoot) ??
      (artifactUri.startsWith("/")
        ? artifactUri
        : artifactUri.startsWith("file://")
          ? artifactUri.slice(7)
          : undefined);
    if (!modelPath) {
      throw new TagError(
        `artifact URI ${artifactUri} is not under the artifact root ${settings.artifactRoot} mounted at ${settings.storageRoot}`,
      );
    }
    return { mode, image, modelPath, storageRoot: settings.storageRoot, storageClaim: settings.storageClaim };
  }
  const modelUri =
    (settings.modelUriPrefix && underRoot(artifactUri, settings.artifactRoot, settings.modelUriPrefix)) ||
    (OBJECT_STORE.test(artifactUri) ? artifactUri : undefined);
  if (!modelUri) {
    throw new TagError(
      `artifact URI ${artifactUri} is not an object-store URI and no modelUri prefix maps it`,
    );
  }
  return { mode, modelUri, credentialsSecret: settings.credentialsSecret };
}

/**
 * How a model is read: KServe and Seldon v2 read its storage URI themselves; a SeldonDeployment
 * runs the wrapper image or Seldon's MLFLOW_SERVER (tag, setting, else by the default image).
 */
function servingModeOf(tags: Record<string, string>, settings: EngineSettings): ServingMode {
  const chosen = tagOverride(tags, MODEL_TAGS.servingMode);
  if (settings.target !== "seldon-v1") {
    if (chosen === "wrapper-image")
      throw new TagError(
        `tag ${MODEL_TAGS.servingMode}=wrapper-image needs the seldon-v1 target, not ${settings.target}`,
      );
    return "mlflow-server";
  }
  return chosen ?? settings.servingMode ?? (settings.defaultImage ? "wrapper-image" : "mlflow-server");
}

export function plan(snapshot: Pick<RegistrySnapshot, "slots">, settings: EngineSettings): Plan {
  const result: Plan = { desired: [], problems: [], retainedModels: new Set() };
  for (const slot of snapshot.slots) {
    try {
      if (slot.rolloutProblem) throw new TagError(slot.rolloutProblem);
      const { target } = settings;
      const mode = servingModeOf(slot.modelTags, settings);
      const serving = (artifactUri: string) => servingFor(slot.modelTags, artifactUri, mode, settings);
      const { candidate, candidateLocation } = slot;
      const unsupported =
        candidate && rolloutUnsupported(target, candidate.mode, settings.kserveDeploymentMode);
      if (unsupported) throw new TagError(`tag ${MODEL_TAGS.canary}: ${unsupported}`);
      result.desired.push({
        model: slot.model,
        slot: slotDescription(slot.slot),
        version: slot.version,
        ...(candidate ? { candidate } : {}),
        object: buildServingObject({
          target,
          name: deploymentName(slot.model, slot.slot, TARGETS[target].maxNameLength?.(settings.namespace)),
          namespace: settings.namespace,
          owner: settings.owner,
          model: slot.model,
          version: slot.version,
          slot: slot.slot,
          runId: slot.location.runId,
          source: slot.location.source,
          artifactUri: slot.location.artifactUri,
          modelCreated: slot.location.modelCreated,
          serving: serving(slot.location.artifactUri),
          replicas: tagOverride(slot.modelTags, MODEL_TAGS.replicas) ?? settings.replicas,
          protocol: tagOverride(slot.modelTags, MODEL_TAGS.protocol) ?? settings.protocol,
          resources: tagOverride(slot.modelTags, MODEL_TAGS.resources) ?? settings.resources,
          serviceAccount: settings.serviceAccount,
          kserveDeploymentMode: settings.kserveDeploymentMode,
          candidate:
            candidate && candidateLocation
              ? { ...candidate, serving: serving(candidateLocation.artifactUri) }
              : undefined,
        }),
      });
    } catch (error) {
      if (!(error instanceof TagError)) throw error;
      result.problems.push({ model: slot.model, slot: slotDescription(slot.slot), message: error.message });
      result.retainedModels.add(modelLabel(slot.model));
    }
  }
  return result;
}
