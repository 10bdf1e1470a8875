// A Pulumi dynamic resource serving a group of a stack's slots
// (type pulumi-nodejs:dynamic/mlflow2seldon:ModelDeploymentGroup); its provider is
// `modelDeploymentGroupProvider` in runtime.ts.
import * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "./dynamic-resource";
import type { AppliedObject } from "./runtime";

/** The cluster a group writes to: a kubeconfig context, kubeconfig content, or both. */
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

export interface ModelDeploymentGroupArgs extends ClusterArgs {
  /** Owner label value of the stack's objects. */
  owner: pulumi.Input<string>;
  /**
   * The served slots, by the name of their serving object: each the JSON text of
   * `{ model, slot, version, candidate?, manifest }`, where `manifest` is the object the engine
   * planned (SeldonDeployment, InferenceService or Model). Each slot is one input, so
   * `pulumi preview` names the slots a change touches and `--diff` shows each field by field.
   */
  slots: Record<string, pulumi.Input<string>>;
}

export class ModelDeploymentGroup extends DynamicResource {
  /** The applied objects by name: kind, namespace, uid and digests. */
  declare readonly objects: pulumi.Output<Record<string, AppliedObject>>;

  constructor(name: string, args: ModelDeploymentGroupArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "modelDeploymentGroupProvider",
      "ModelDeploymentGroup",
      name,
      {
        ...args.slots,
        group: name,
        owner: args.owner,
        kubeContext: args.kubeContext,
        kubeconfig: args.kubeconfig === undefined ? undefined : pulumi.secret(args.kubeconfig),
        objects: undefined,
      },
      { ...opts, additionalSecretOutputs: ["kubeconfig", ...(opts?.additionalSecretOutputs ?? [])] },
    );
  }
}
