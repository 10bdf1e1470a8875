// The registry snapshot as resources: one ModelDeployment per SeldonDeployment the engine
// planned, so preview lists creates, updates (old -> new version) and deletes.
// Type token mlflow2seldon:index:ModelDeployments.
import * as pulumi from "@pulumi/pulumi";
import { ANNOTATIONS, type SeldonDeployment } from "../engine/manifest";
import { ModelDeployment, type ClusterArgs } from "../provider/model-deployment";

export interface ModelDeploymentsArgs extends ClusterArgs {
  /** SeldonDeployments planned from the registry snapshot (`planModelDeployments`). */
  deployments: SeldonDeployment[];
  /** Owner label value of the stack's objects (the `owner` setting they were planned with). */
  owner: string;
}

export class ModelDeployments extends pulumi.ComponentResource {
  public readonly names: pulumi.Output<string[]>;

  constructor(name: string, args: ModelDeploymentsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow2seldon:index:ModelDeployments", name, {}, opts);
    const resources = args.deployments.map((manifest) => {
      const annotations = manifest.metadata.annotations;
      // The object's name is stable per (model, slot), so a promotion is an update of the same resource.
      return new ModelDeployment(
        manifest.metadata.name,
        {
          model: annotations[ANNOTATIONS.modelName],
          slot: annotations[ANNOTATIONS.slot],
          version: annotations[ANNOTATIONS.version],
          owner: args.owner,
          kubeContext: args.kubeContext,
          kubeconfig: args.kubeconfig,
          manifest: manifest as unknown as Record<string, unknown>,
        },
        { parent: this },
      );
    });
    this.names = pulumi.output(args.deployments.map((d) => `${d.metadata.namespace}/${d.metadata.name}`));
    this.registerOutputs({ names: this.names, count: resources.length });
  }
}
