// A Pulumi dynamic resource for one model's SeldonDeployment
// (type pulumi-nodejs:dynamic/mlflow2seldon:ModelDeployment). The provider is serialized into the
// stack's state, so it captures only code and one piece of data: the absolute path of the
// provider runtime next to this file, found when the program runs. The provider process loads
// that module (compiled JavaScript from an installed package, or this project's TypeScript when
// the program runs from source) whatever its working directory is.
import * as pulumi from "@pulumi/pulumi";
import type { ModelDeploymentInputs, ModelDeploymentOutputs } from "./runtime";

type Runtime = typeof import("./runtime");

const RUNTIME_MODULE = require.resolve("./runtime");

/* eslint-disable @typescript-eslint/no-require-imports -- a serialized provider must require at run time */
function runtime(): Runtime {
  const file = RUNTIME_MODULE;
  try {
    // Run from source, the program is TypeScript: let the provider process load it the same way,
    // with the project's own ts-node (transpile only: the program's run has type-checked it).
    if (file.endsWith(".ts") && !(Symbol.for("ts-node.register.instance") in process)) {
      const path = require("node:path") as typeof import("node:path");
      const tsNode = require(require.resolve("ts-node", { paths: [path.dirname(file)] }));
      tsNode.register({
        transpileOnly: true,
        projectSearchDir: path.dirname(file),
        compilerOptions: { module: "commonjs", moduleResolution: "node10", ignoreDeprecations: "6.0" },
      });
    }
    return require(file) as Runtime;
  } catch (error) {
    throw new Error(
      `cannot load the mlflow2seldon provider runtime ${file} (was the project moved? run pulumi up again from its new place): ${String(error)}`,
      { cause: error },
    );
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
  /** Owner label value of the stack's objects. */
  owner: pulumi.Input<string>;
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
