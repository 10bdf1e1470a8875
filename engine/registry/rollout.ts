// Progressive rollout driven by the registry: a candidate version served beside a serving slot's
// version in the same object, either taking a share of the traffic (canary) or receiving a copy
// of every request with its answers discarded (shadow). Set for every model by the `canary`
// setting, or for one model by its `mlflow2seldon.canary` tag ("none" turns it off). Pure.
import { z } from "zod";
import type { RegisteredModel } from "./schemas";
import type { Candidate, Slot } from "../vocabulary";

/** The registered-model tag holding a model's rollout (JSON), or "none". */
export const CANARY_TAG = "mlflow2seldon.canary";

const slotReference = z
  .string()
  .regex(/^@?[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a stage such as "Staging" or an alias such as "@challenger"');

export const rolloutSchema = z
  .object({
    /** The candidate: the latest version in a stage ("Staging") or an alias's version ("@challenger"). */
    from: slotReference,
    /** The serving slot whose object the candidate joins. */
    to: slotReference.default("Production"),
    /** canary: `percent` of the requests; shadow: a copy of every request, its answers discarded. */
    mode: z.enum(["canary", "shadow"]).default("canary"),
    /** The candidate's share of the requests (canary only). */
    percent: z.number().int().min(1).max(99).optional(),
  })
  .strict()
  .refine((r) => (r.mode === "canary") === (r.percent !== undefined), {
    message: "a canary takes percent (1 to 99), a shadow none",
  });
export type Rollout = z.infer<typeof rolloutSchema>;

const slotOf = (reference: string): Slot =>
  reference.startsWith("@")
    ? { kind: "alias", name: reference.slice(1) }
    : { kind: "stage", name: reference };

const sameSlot = (a: Slot, b: Slot) =>
  a.kind === b.kind &&
  (a.kind === "alias" ? a.name === b.name : a.name.toLowerCase() === b.name.toLowerCase());

/** The rollout of one model: its tag, else the setting; a tag that does not parse is a RolloutError. */
export function rolloutOf(model: RegisteredModel, setting: Rollout | undefined): Rollout | undefined {
  const raw = model.tags[CANARY_TAG];
  if (raw === undefined) return setting;
  if (raw.trim() === "none") return undefined;
  let parsed;
  try {
    parsed = rolloutSchema.safeParse(JSON.parse(raw));
  } catch {
    throw new RolloutError(raw, 'JSON such as {"from":"Staging","percent":10} or "none"');
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RolloutError(raw, `${issue?.path.join(".") || "value"}: ${issue?.message}`);
  }
  return parsed.data;
}

export class RolloutError extends Error {
  constructor(raw: string, expected: string) {
    super(`tag ${CANARY_TAG}=${JSON.stringify(raw)} is invalid: ${expected}`);
    this.name = "RolloutError";
  }
}

/**
 * The candidate joining the object of `slot` (serving `version`; `versionIn` tells which version
 * a slot holds now): none when the rollout is for
 * another slot, nothing holds the candidate slot, or the candidate is that version already
 * (promoted: the object returns to one predictor).
 */
export function candidateFor(
  rollout: Rollout | undefined,
  slot: Slot,
  version: string,
  versionIn: (slot: Slot) => string | undefined,
): Candidate | undefined {
  if (!rollout || !sameSlot(slotOf(rollout.to), slot)) return undefined;
  const from = slotOf(rollout.from);
  const candidate = versionIn(from);
  if (candidate === undefined || candidate === version) return undefined;
  return { version: candidate, from, mode: rollout.mode, percent: rollout.percent };
}

/** "canary 10% of version 4 (stage:Staging)" */
export function describeCandidate(candidate: Candidate): string {
  const share = candidate.mode === "canary" ? `canary ${candidate.percent}%` : "shadow";
  return `${share} of version ${candidate.version} (${candidate.from.kind}:${candidate.from.name})`;
}
