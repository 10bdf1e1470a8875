// A Pulumi dynamic resource for one model's SeldonDeployment
// (type pulumi-nodejs:dynamic/mlflow2seldon:ModelDeployment). The provider is serialized into the
// stack's state for every resource, so it is kept small: code, plus the absolute path of the
// runtime loader (provider/load-runtime.cjs), found when the program runs. The provider process
// loads the engine through it whatever its working directory is.
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";
import type { ModelDeploymentInputs, ModelDeploymentOutputs } from "./runtime";

type Runtime = typeof import("./runtime");

// provider/ in a checkout, dist/provider/ in a build or an installed package.
const RUNTIME_LOADER = resolve(
  __dirname,
  __dirname.endsWith("dist/provider") ? "../.." : "..",
  "provider",
  "load-runtime.cjs",
);

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a serialized provider must require at run time
const runtime = (): Runtime => require(RUNTIME_LOADER);

const modelDeploymentProvider: pulumi.dynamic.ResourceProvider<
  ModelDeploymentInputs,
  ModelDeploymentOutputs
> = {
  check: async (_olds, news) =>
    runtime().checkInputs(news) as pulumi.dynamic.CheckResult<ModelDeploymentInputs>,
  diff: async (_id, olds, news) => runtime().diffInputs(olds, news),
  create: async (inputs) => ({
    id: runtime().deploymentId(inputs),
    outs: await runtime().applyDeployment(inputs),
  }),
  update: async (_id, _olds, news) => ({ outs: await runtime().applyDeployment(news) }),
  read: async (id, props) =>
    runtime().readDeployment(id, props!) as Promise<pulumi.dynamic.ReadResult<ModelDeploymentOutputs>>,
  delete: async (id, props) => runtime().deleteDeployment(id, props),
};

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
  /** The serving object the engine planned (SeldonDeployment, InferenceService or Model). */
  manifest: pulumi.Input<Record<string, unknown>>;
}

export class ModelDeployment extends pulumi.dynamic.Resource {
  declare readonly version: pulumi.Output<string>;
  declare readonly uid: pulumi.Output<string>;

  constructor(name: string, args: ModelDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      modelDeploymentProvider,
      name,
      {
        ...args,
        kubeconfig: args.kubeconfig === undefined ? undefined : pulumi.secret(args.kubeconfig),
        uid: undefined,
      },
      { ...opts, additionalSecretOutputs: ["kubeconfig", ...(opts?.additionalSecretOutputs ?? [])] },
      "mlflow2seldon",
      "ModelDeployment",
    );
  }
}
