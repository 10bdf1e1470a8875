// One registry snapshot planned into SeldonDeployments, for callers that apply the whole plan at
// once (the Pulumi program and programs using the components): any slot that cannot be planned
// stops the run, since leaving it out would delete its deployment.
import { PlanError } from "./errors";
import { MlflowClient, type MlflowClientOptions } from "./registry/mlflow-client";
import { plan, type PlannedDeployment } from "./plan/planner";
import { RegistryReader } from "./registry/reader";
import { engineSettingsSchema, type EngineSettingsInput } from "./settings";
import type { ServingObject } from "./vocabulary";

export interface PlanOptions {
  /**
   * Objects already serving versions (the caller's own, e.g. `listOwned`): the locations they
   * record are reused, so an unchanged version costs no MLflow request.
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
  reader.seed(options.known ?? []);
  const planned = plan(await reader.snapshot(), parsed);
  if (planned.problems.length > 0) throw new PlanError(planned.problems);
  return planned.desired;
}
