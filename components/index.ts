// The package's entry point for Pulumi programs: the components, the dynamic resources,
// and the engine's planning step that turns the registry into the objects to deploy.
//   import { ModelDeployments, SyncService, planModelDeployments } from "mlflow2seldon";
export { ModelDeployments, type ModelDeploymentsArgs } from "./model-deployments";
export { SyncService, type SyncServiceArgs } from "./sync-service";
export { ServingGuardrails, type ServingGuardrailsArgs } from "./serving-guardrails";
export {
  ModelDeploymentGroup,
  type ModelDeploymentGroupArgs,
  type ClusterArgs,
} from "../provider/model-deployment-group";
export { MlflowWebhook, type MlflowWebhookArgs } from "../provider/mlflow-webhook";
export { planModelDeployments, type PlanOptions } from "../engine/snapshot";
export { engineSettingsEnv } from "../service/env";
export type { EngineSettingsInput, EngineSettings } from "../engine/settings";
export type { MlflowClientOptions } from "../engine/registry/mlflow-client";
export type { ServingObject } from "../engine/vocabulary";
export type { PlannedDeployment } from "../engine/plan/planner";
export { PlanError } from "../engine/errors";
