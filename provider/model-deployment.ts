// A Pulumi dynamic resource for one model's serving object
// (type pulumi-nodejs:dynamic/mlflow2seldon:ModelDeployment); its provider is
// `modelDeploymentProvider` in runtime.ts.
import * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "./dynamic-resource";

/** The cluster a ModelDeployment writes to: a kubeconfig context, kubeconfig content, or both. */
export interface ClusterArgs {
  /**
   * kubeconfig context (the same one the stack's Kubernetes provider uses). Without `kubeconfig`,
   * the context is looked up in $KUBECONFIG or ~/.kube/config of the process running Pulumi.
   */
  kubeContext?: pulumi.Input<string>;
  /**
   * kubeconfig content (YAML or JSON), e.g. the secret kubeconfig Output of a cluster created in
   * the same program. Kept secret in the stack's state and outputs.
   */
  kubeconfig?: pulumi.Input<string>;
}

export interface ModelDeploymentArgs extends ClusterArgs {
  /** Registered model name in MLflow. */
  model: pulumi.Input<string>;
  /** Serving slot: stage:Production or alias:champion. */
  slot: pulumi.Input<string>;
  /** The MLflow version served. */
  version: pulumi.Input<string>;
  /** The candidate served beside it, e.g. "canary 10% of version 4 (stage:Staging)". */
  candidate?: pulumi.Input<string>;
  /** Owner label value of the stack's objects. */
  owner: pulumi.Input<string>;
  /**
   * The serving object the engine planned (SeldonDeployment, InferenceService or Model) as JSON
   * text, one value in the state instead of one per field; `pulumi preview --diff` shows it field
   * by field all the same.
   */
  manifest: pulumi.Input<string>;
}

export class ModelDeployment extends DynamicResource {
  declare readonly version: pulumi.Output<string>;
  declare readonly uid: pulumi.Output<string>;

  constructor(name: string, args: ModelDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "modelDeploymentProvider",
      "ModelDeployment",
      name,
      {
        ...args,
        kubeconfig: args.kubeconfig === undefined ? undefined : pulumi.secret(args.kubeconfig),
        uid: undefined,
      },
      { ...opts, additionalSecretOutputs: ["kubeconfig", ...(opts?.additionalSecretOutputs ?? [])] },
    );
  }
}
