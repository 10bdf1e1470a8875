// The registry snapshot as resources: one ModelDeployment per SeldonDeployment the engine
// planned, so preview lists creates, updates (old -> new version) and deletes.
// Type token mlflow2seldon:index:ModelDeployments.
import * as pulumi from "@pulumi/pulumi";
import type { PlannedDeployment } from "../engine/plan/planner";
import { describeCandidate } from "../engine/registry/rollout";
import { ModelDeployment, type ClusterArgs } from "../provider/model-deployment";

export interface ModelDeploymentsArgs extends ClusterArgs {
  /** The deployments planned from the registry snapshot (`planModelDeployments`). */
  deployments: PlannedDeployment[];
  /** Owner label value of the stack's objects (the `owner` setting they were planned with). */
  owner: string;
}

export class ModelDeployments extends pulumi.ComponentResource {
  public readonly names: pulumi.Output<string[]>;

  constructor(name: string, args: ModelDeploymentsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow2seldon:index:ModelDeployments", name, {}, opts);
    // The object's name is stable per (model, slot), so a promotion is an update of the same resource.
    const resources = args.deployments.map(
      ({ model, slot, version, candidate, object }) =>
        new ModelDeployment(
          object.metadata.name,
          {
            model,
            slot,
            version,
            candidate: candidate && describeCandidate(candidate),
            owner: args.owner,
            kubeContext: args.kubeContext,
            kubeconfig: args.kubeconfig,
            manifest: JSON.stringify(object),
          },
          { parent: this },
        ),
    );
    this.names = pulumi.output(
      args.deployments.map(({ object }) => `${object.metadata.namespace}/${object.metadata.name}`),
    );
    this.registerOutputs({ names: this.names, count: resources.length });
  }
}
