// The serving system's own view of an object it acts on, in one line for users: KServe's and
// Seldon v2's conditions, Seldon v1's state. Reported beside the engine's state (status, status
// page); never a reason to write or delete anything. Pure.
import { z } from "zod";
import type { ServingObject } from "../vocabulary";

// What KServe, Seldon v1 and Seldon v2 write under `status` that users act on; the rest is ignored.
const servingStatusSchema = z.looseObject({
  /** Seldon v1: Creating, Available or Failed, with a description when it failed. */
  state: z.string().optional(),
  description: z.string().optional(),
  /** KServe, Seldon v2 (and Seldon v1 since 1.10): Knative-style conditions. */
  conditions: z
    .array(
      z.looseObject({
        type: z.string(),
        status: z.string(),
        reason: z.string().optional(),
        message: z.string().optional(),
      }),
    )
    .optional(),
});

/** The object's serving status in one line; undefined before the serving system wrote one. */
export function servingView(object: ServingObject): string | undefined {
  const parsed = servingStatusSchema.safeParse((object as { status?: unknown }).status);
  if (!parsed.success) return undefined;
  const { state, description, conditions = [] } = parsed.data;
  // The first condition not met says why (PredictorReady before the summary Ready).
  const unmet =
    conditions.find((c) => c.status !== "True" && c.type !== "Ready") ??
    conditions.find((c) => c.status !== "True");
  const why = unmet
    ? `${unmet.type}: ${[unmet.reason, unmet.message].filter(Boolean).join(" - ") || unmet.status}`
    : undefined;
  if (state) return [state, description, why].filter(Boolean).join("; ");
  if (conditions.length === 0) return undefined;
  return why ? `not ready (${why})` : "ready";
}

/** Whether a view says the object serves: Seldon v1's Available, or every condition met. */
export const servesReady = (view: string) => view === "ready" || view.startsWith("Available");
