// Which model versions serve: the latest version in each configured stage (MLflow's
// latest_versions semantics) and the version behind each configured alias. Pure.
import type { RegisteredModel } from "./schemas";
import { candidateFor, rolloutOf, RolloutError, type Rollout } from "./rollout";
import type { EngineSettings } from "../settings";
import type { UnconfirmedAbsence } from "../deletion";
import type { Candidate, Slot } from "../vocabulary";

export interface ServingSlot {
  model: string;
  modelTags: Record<string, string>;
  slot: Slot;
  version: string;
  /** A candidate version served beside `version` in the same object (progressive rollout). */
  candidate?: Candidate;
  /** Why the model's rollout could not be read (its objects are kept as they are). */
  rolloutProblem?: string;
}

/** Where a version's model lives: immutable for a version, so callers may cache it. */
export interface VersionLocation {
  source: string;
  runId: string;
  artifactUri: string;
  /** Creation time (ms) of the registered model: a re-registered model restarts at version 1. */
  modelCreated: number;
}

export type ResolvedSlot = ServingSlot & {
  location: VersionLocation;
  /** Where the candidate version lives (with a candidate). */
  candidateLocation?: VersionLocation;
};

export interface RegistrySnapshot {
  slots: ResolvedSlot[];
  /** Models that own objects but were neither listed nor confirmed gone: their objects are kept. */
  unconfirmed: UnconfirmedAbsence[];
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`);
}

/** Whether this owner manages a model: its name matches an include and no exclude glob pattern. */
export function modelFilter(
  settings: Pick<EngineSettings, "includeModels" | "excludeModels">,
): (model: string) => boolean {
  const include = settings.includeModels.map(globToRegExp);
  const exclude = settings.excludeModels.map(globToRegExp);
  return (model) => include.some((p) => p.test(model)) && !exclude.some((p) => p.test(model));
}

/** The latest version in a stage (MLflow's latest_versions), or the version behind an alias. */
function latestIn(model: RegisteredModel, slot: Slot) {
  if (slot.kind === "alias") {
    const target = model.aliases.find((a) => a.alias === slot.name);
    return target && { version: target.version, slot };
  }
  const latest = model.latest_versions
    .filter((v) => v.current_stage.toLowerCase() === slot.name.toLowerCase())
    .sort((a, b) => Number(b.version) - Number(a.version))[0];
  return latest && { version: latest.version, slot: { kind: "stage", name: latest.current_stage } as Slot };
}

export function servingSlots(models: RegisteredModel[], settings: EngineSettings): ServingSlot[] {
  const slots: ServingSlot[] = [];
  const manages = modelFilter(settings);
  for (const model of models) {
    if (!manages(model.name)) continue;
    let rollout: Rollout | undefined;
    let rolloutProblem: string | undefined;
    try {
      rollout = rolloutOf(model, settings.canary);
    } catch (error) {
      if (!(error instanceof RolloutError)) throw error;
      rolloutProblem = error.message;
    }
    const wanted: Slot[] = [
      ...settings.stages.map((name) => ({ kind: "stage", name }) as Slot),
      ...settings.aliases.map((name) => ({ kind: "alias", name }) as Slot),
    ];
    for (const held of wanted.map((slot) => latestIn(model, slot))) {
      if (!held) continue;
      const candidate = candidateFor(rollout, held.slot, held.version, (s) => latestIn(model, s)?.version);
      slots.push({
        model: model.name,
        modelTags: model.tags,
        ...held,
        ...(candidate ? { candidate } : {}),
        ...(rolloutProblem ? { rolloutProblem } : {}),
      });
    }
  }
  return slots;
}
