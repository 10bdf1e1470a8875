// One registry snapshot planned into serving objects, for callers that apply the whole plan at
// once (the Pulumi program and programs using the components): any slot that cannot be planned,
// and any served model whose absence from the registry is not confirmed, stops the run, since
// leaving it out would delete its deployment.
import { PlanError } from "./errors";
import { servedModel } from "./inventory";
import { MlflowClient, type MlflowClientOptions } from "./registry/mlflow-client";
import { plan, type PlannedDeployment } from "./plan/planner";
import { RegistryReader } from "./registry/reader";
import { engineSettingsSchema, type EngineSettingsInput } from "./settings";
import type { ServingObject } from "./vocabulary";

export interface PlanOptions {
  /**
   * Objects already serving versions (the caller's own, e.g. `listOwned`): the locations they
   * record are reused, so an unchanged version costs no MLflow request, and a model they serve
   * that the registry's listing leaves out is read directly before it is planned away.
   */
  known?: ServingObject[];
}

/** Reads the registry now and returns the serving objects the engine wants for `settings`. */
export async function planModelDeployments(
  mlflow: MlflowClientOptions,
  settings: EngineSettingsInput,
  options: PlanOptions = {},
): Promise<PlannedDeployment[]> {
  const parsed = engineSettingsSchema.parse(settings);
  const reader = new RegistryReader(new MlflowClient(mlflow), parsed);
  const known = options.known ?? [];
  reader.seed(known);
  const snapshot = await reader.snapshot(known.map(servedModel));
  const planned = plan(snapshot, parsed);
  // A deployment left out of the plan is deleted: one whose model was not confirmed gone stops the run.
  const problems = [
    ...planned.problems,
    ...snapshot.unconfirmed.map(({ model, reason }) => ({
      model,
      slot: "every slot",
      message: `${reason}; its deployments are kept, so nothing is planned until MLflow answers`,
    })),
  ];
  if (problems.length > 0) throw new PlanError(problems);
  return planned.desired;
}
