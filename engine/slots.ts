// Which model versions serve: the latest version in each configured stage (MLflow's
// latest_versions semantics) and the version behind each configured alias. Pure.
import type { RegisteredModel } from "./mlflow/schemas";
import type { EngineSettings } from "./settings";

export interface Slot {
  kind: "stage" | "alias";
  /** Stage as MLflow spells it (Production) or alias name (champion). */
  name: string;
}

export interface ServingSlot {
  model: string;
  modelTags: Record<string, string>;
  slot: Slot;
  version: string;
}

export function slotKey(slot: Slot): string {
  return slot.kind === "stage" ? slot.name.toLowerCase() : slot.name;
}

export function slotDescription(slot: Slot): string {
  return `${slot.kind}:${slot.name}`;
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

export function servingSlots(models: RegisteredModel[], settings: EngineSettings): ServingSlot[] {
  const slots: ServingSlot[] = [];
  const manages = modelFilter(settings);
  for (const model of models) {
    if (!manages(model.name)) continue;
    const add = (slot: Slot, version: string) =>
      slots.push({ model: model.name, modelTags: model.tags, slot, version });
    for (const stage of settings.stages) {
      const inStage = model.latest_versions.filter(
        (v) => v.current_stage.toLowerCase() === stage.toLowerCase(),
      );
      const latest = inStage.sort((a, b) => Number(b.version) - Number(a.version))[0];
      if (latest) add({ kind: "stage", name: latest.current_stage }, latest.version);
    }
    for (const alias of settings.aliases) {
      const target = model.aliases.find((a) => a.alias === alias);
      if (target) add({ kind: "alias", name: alias }, target.version);
    }
  }
  return slots;
}
