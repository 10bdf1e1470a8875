// Kubernetes names and label values for MLflow names: valid DNS-1123, deterministic, and
// collision-free for any model name (unicode, spaces, case) thanks to a short hash of the full name.
import { createHash } from "node:crypto";
import type { Slot } from "../vocabulary";

/** Lower-case a-z0-9 and single dashes, diacritics folded, no leading or trailing dash. */
export function slug(text: string, maxLength: number): string {
  return text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, maxLength)
    .replace(/^-+|-+$/g, "");
}

export const MAX_NAME_LENGTH = 44;
/** The shortest name limit a target may ask for: room for a readable model and slot slug. */
export const MIN_NAME_LENGTH = 24;

export function shortHash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 8);
}

/**
 * The serving object's name of one (model, slot): at most `maxLength` characters (44 by default,
 * so the names Seldon derives from it, `<name>-<predictor>-0-<container>`, stay within 63; a
 * target may ask for fewer, see serving-targets.ts); starting with a letter, since the Services
 * Seldon and KServe derive from it are DNS-1035 labels (KServe's admission refuses an
 * InferenceService name starting with a digit).
 */
export function deploymentName(model: string, slot: Slot, maxLength = MAX_NAME_LENGTH): string {
  const slotSlug = slug(slot.name, 10) || "slot";
  // Two dashes and the hash are fixed; the model's slug takes what is left, up to 24.
  const modelRoom = Math.min(24, maxLength - slotSlug.length - 10);
  const modelSlug = slug(model, modelRoom) || "model";
  const parts = [
    /^[a-z]/.test(modelSlug) ? modelSlug : `m-${slug(modelSlug, modelRoom - 2)}`,
    slotSlug,
    shortHash(model, slot.kind, slot.name),
  ];
  return parts.join("-").replace(/--+/g, "-");
}

/** A label value naming a model: readable prefix plus the hash of the full name. */
export function modelLabel(model: string): string {
  return `${slug(model, 40) || "model"}-${shortHash(model)}`;
}
