// One registry snapshot planned into SeldonDeployments, for callers that apply the whole plan at
// once (the Pulumi program and programs using the components): any slot that cannot be planned
// stops the run, since leaving it out would delete its deployment.
import { PlanError } from "./errors";
import { MlflowClient, type MlflowClientOptions } from "./mlflow/client";
import { plan, type PlannedDeployment } from "./planner";
import { RegistryReader } from "./registry";
import { engineSettingsSchema, type EngineSettingsInput } from "./settings";

/** Reads the registry now and returns the SeldonDeployments the engine wants for `settings`. */
export async function planModelDeployments(
  mlflow: MlflowClientOptions,
  settings: EngineSettingsInput,
): Promise<PlannedDeployment[]> {
  const parsed = engineSettingsSchema.parse(settings);
  const planned = plan(await new RegistryReader(new MlflowClient(mlflow), parsed).snapshot(), parsed);
  if (planned.problems.length > 0) throw new PlanError(planned.problems);
  return planned.desired;
}
