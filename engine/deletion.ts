// When the engine may delete a serving object: the one deletion rule every front uses. Deleting
// serving is an outage of a model that may still be in the registry, and a listing is not proof
// of absence (MLflow pages by row offset, so a deletion or creation between two page requests
// shifts a model out of both pages; a permission filter hides models). A model that owns objects
// but is missing from a listing is therefore read directly, and only MLflow's own
// RESOURCE_DOES_NOT_EXIST lets its objects go; and one cycle deletes at most a bounded number of
// objects, or none.
import { mapLimited, PARALLEL_REQUESTS } from "./concurrency";
import { errorMessage } from "./errors";
import type { MlflowClient } from "./registry/mlflow-client";
import type { RegisteredModel } from "./registry/schemas";

/** Deletions one cycle of the sync service may make unless configured otherwise. */
export const DEFAULT_MAX_DELETIONS = 10;

/** A model whose objects are kept because its absence from the registry was not confirmed. */
export interface UnconfirmedAbsence {
  model: string;
  /** What the direct read answered instead of "does not exist". */
  reason: string;
}

/**
 * Reads each model that a listing left out but that owns serving objects: those MLflow returns
 * were missed by the listing (they join the snapshot), those it says do not exist are gone, and
 * any other answer (401, 403, 5xx, a timeout) leaves the model unconfirmed.
 */
export async function confirmAbsence(
  client: Pick<MlflowClient, "getRegisteredModel">,
  models: string[],
): Promise<{ found: RegisteredModel[]; unconfirmed: UnconfirmedAbsence[] }> {
  const answers = await mapLimited(models, PARALLEL_REQUESTS, (model) =>
    client.getRegisteredModel(model).then(
      (record) => ({ model, record }),
      (error: unknown) => ({ model, reason: errorMessage(error) }),
    ),
  );
  const found: RegisteredModel[] = [];
  const unconfirmed: UnconfirmedAbsence[] = [];
  for (const answer of answers) {
    if ("reason" in answer)
      unconfirmed.push({
        model: answer.model,
        reason: `missing from the registry listing, and reading it directly failed (${answer.reason})`,
      });
    else if (answer.record) found.push(answer.record);
  }
  return { found, unconfirmed };
}

/** Why a cycle that planned `count` deletions makes none of them, or undefined when it may. */
export function deletionCapExceeded(count: number, max: number | undefined): string | undefined {
  if (max === undefined || count <= max) return undefined;
  return max === 0
    ? "deletions are off (the deletion cap is 0)"
    : `${count} deletions planned, more than the ${max} one cycle may make: none made until the cap is raised or the registry is checked`;
}
