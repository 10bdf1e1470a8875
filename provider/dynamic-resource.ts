// The base of the package's dynamic resources (ModelDeploymentGroup, MlflowWebhook). Pulumi keeps a
// dynamic resource's provider, as the text of a CommonJS module, under `__provider` in its inputs
// and again in its outputs; its closure serializer writes ~2.4 KB for six small methods, most of
// a slot's state, which the local backend rewrites after every step of an up. The
// module written here is one line: it requires the runtime (provider/load-runtime.cjs) by the
// absolute path found when the program runs, whatever the provider process's working directory
// is, and hands over one of the runtime's providers.
import * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";

// provider/ in a checkout, dist/provider/ in a build or an installed package.
const RUNTIME_LOADER = resolve(
  __dirname,
  __dirname.endsWith("dist/provider") ? "../.." : "..",
  "provider",
  "load-runtime.cjs",
);

/** The runtime's dynamic providers, by their export names in provider/runtime.ts. */
export type RuntimeProvider = "modelDeploymentGroupProvider" | "mlflowWebhookProvider";

/** The `__provider` module of a runtime provider, as the dynamic provider process loads it. */
const providerModule = (provider: RuntimeProvider) =>
  `exports.handler = () => require(${JSON.stringify(RUNTIME_LOADER)}).${provider};`;

/** A resource of type pulumi-nodejs:dynamic/mlflow2seldon:<type>, served by a runtime provider. */
export abstract class DynamicResource extends pulumi.CustomResource {
  protected constructor(
    provider: RuntimeProvider,
    type: string,
    name: string,
    props: pulumi.Inputs,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      `pulumi-nodejs:dynamic/mlflow2seldon:${type}`,
      name,
      { ...props, __provider: providerModule(provider) },
      opts,
    );
  }
}
