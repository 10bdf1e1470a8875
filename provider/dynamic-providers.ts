// The dynamic providers of the package's resources (ModelDeployment, MlflowWebhook). Pulumi
// serializes a resource's provider into the stack's state for every resource, so each is kept
// small: code that loads the runtime (provider/runtime.ts) through provider/load-runtime.cjs, by
// the absolute path found when the program runs, whatever the provider process's working
// directory is.
import type * as pulumi from "@pulumi/pulumi";
import { resolve } from "node:path";
import type {
  MlflowWebhookInputs,
  MlflowWebhookOutputs,
  ModelDeploymentInputs,
  ModelDeploymentOutputs,
} from "./runtime";

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

export const modelDeploymentProvider: pulumi.dynamic.ResourceProvider<
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

export const mlflowWebhookProvider: pulumi.dynamic.ResourceProvider<
  MlflowWebhookInputs,
  MlflowWebhookOutputs
> = {
  check: async (_olds, news) =>
    runtime().checkWebhookInputs(news) as pulumi.dynamic.CheckResult<MlflowWebhookInputs>,
  diff: async (_id, olds, news) => runtime().diffWebhookInputs(olds, news),
  create: async (inputs) => runtime().createWebhook(inputs),
  update: async (id, _olds, news) => ({ outs: await runtime().updateWebhook(id, news) }),
  read: async (id, props) =>
    runtime().readWebhook(id, props!) as Promise<pulumi.dynamic.ReadResult<MlflowWebhookOutputs>>,
  delete: async (id, props) => runtime().deleteWebhook(id, props),
};
