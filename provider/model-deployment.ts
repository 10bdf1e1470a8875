// A Pulumi dynamic resource for one model's SeldonDeployment (type mlflow2seldon:index:ModelDeployment).
// The provider is serialized into the stack's state: it captures nothing but code, and loads
// the compiled provider runtime from the project folder (the provider host's working directory)
// inside each method.
import * as pulumi from "@pulumi/pulumi";
import type { ModelDeploymentInputs, ModelDeploymentOutputs } from "./runtime";

type Runtime = typeof import("./runtime");

/* eslint-disable @typescript-eslint/no-require-imports -- a serialized provider must require at run time */
function runtime(): Runtime {
  const path = require("node:path") as typeof import("node:path");
  const file = path.join(process.cwd(), "dist", "provider", "runtime.js");
  try {
    return require(file) as Runtime;
  } catch (error) {
    throw new Error(`cannot load ${file} (run npm run build in the project folder): ${String(error)}`, {
      cause: error,
    });
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

const modelDeploymentProvider: pulumi.dynamic.ResourceProvider<
  ModelDeploymentInputs,
  ModelDeploymentOutputs
> = {
  async check(_olds, news) {
    return runtime().checkInputs(news) as pulumi.dynamic.CheckResult<ModelDeploymentInputs>;
  },
  async diff(_id, olds, news) {
    return runtime().diffInputs(olds, news);
  },
  async create(inputs) {
    const rt = runtime();
    return { id: rt.deploymentId(inputs), outs: await rt.applyDeployment(inputs) };
  },
  async update(_id, _olds, news) {
    return { outs: await runtime().applyDeployment(news) };
  },
  async read(id, props) {
    if (!props) throw new Error(`cannot read ${id} without its prior state`);
    return (await runtime().readDeployment(id, props)) as pulumi.dynamic.ReadResult<ModelDeploymentOutputs>;
  },
  async delete(id, props) {
    await runtime().deleteDeployment(id, props);
  },
};

export interface ModelDeploymentArgs {
  /** Registered model name in MLflow. */
  model: pulumi.Input<string>;
  /** Serving slot: stage:Production or alias:champion. */
  slot: pulumi.Input<string>;
  /** The MLflow version served. */
  version: pulumi.Input<string>;
  /** Owner label value of the stack's objects. */
  owner: pulumi.Input<string>;
  /** kubeconfig context (the same one the stack's Kubernetes provider uses). */
  kubeContext?: pulumi.Input<string>;
  /** The SeldonDeployment the engine planned. */
  manifest: pulumi.Input<Record<string, unknown>>;
}

export class ModelDeployment extends pulumi.dynamic.Resource {
  declare readonly version: pulumi.Output<string>;
  declare readonly uid: pulumi.Output<string>;

  constructor(name: string, args: ModelDeploymentArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      modelDeploymentProvider,
      name,
      { ...args, uid: undefined },
      opts,
      "mlflow2seldon",
      "ModelDeployment",
    );
  }
}
