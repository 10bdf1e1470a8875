// What the MlflowWebhook dynamic provider does, as plain functions: input validation, diff, and
// the create/read/update/delete of one MLflow webhook through the engine's MLflow client.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { MlflowClient } from "../engine/registry/mlflow-client";

export const mlflowWebhookInputsSchema = z.object({
  mlflowUrl: z.url({ message: "an http(s) URL of the MLflow tracking server" }),
  mlflowToken: z.string().min(1).optional(),
  mlflowUsername: z.string().min(1).optional(),
  mlflowPassword: z.string().min(1).optional(),
  mlflowCaCertificate: z.string().min(1).optional(),
  name: z.string().min(1),
  url: z.url({ message: "the receiver's URL as MLflow reaches it" }),
  secret: z.string().min(16, "at least 16 characters"),
  events: z.array(z.object({ entity: z.string().min(1), action: z.string().min(1) })).min(1),
});
export type MlflowWebhookInputs = z.infer<typeof mlflowWebhookInputsSchema>;

export interface MlflowWebhookOutputs extends MlflowWebhookInputs {
  webhookId: string;
}

export function checkWebhookInputs(news: unknown): pulumi.dynamic.CheckResult {
  const parsed = mlflowWebhookInputsSchema.safeParse(news);
  if (parsed.success) return { inputs: news as Record<string, unknown>, failures: [] };
  return {
    failures: parsed.error.issues.map((issue) => ({
      property: issue.path.join(".") || "(inputs)",
      reason: issue.message,
    })),
  };
}

/** An update in place for anything MLflow can change (rotation keeps the webhook); another MLflow replaces it. */
export function diffWebhookInputs(
  olds: MlflowWebhookInputs,
  news: MlflowWebhookInputs,
): pulumi.dynamic.DiffResult {
  const fields = Object.keys(mlflowWebhookInputsSchema.shape) as (keyof MlflowWebhookInputs)[];
  const changed = fields.filter((f) => JSON.stringify(olds[f]) !== JSON.stringify(news[f]));
  if (changed.length === 0) return { changes: false };
  return { changes: true, replaces: changed.includes("mlflowUrl") ? ["mlflowUrl"] : [] };
}

const clientOf = (inputs: MlflowWebhookInputs) =>
  new MlflowClient({
    url: inputs.mlflowUrl,
    token: inputs.mlflowToken,
    username: inputs.mlflowUsername,
    password: inputs.mlflowPassword,
    caCertificate: inputs.mlflowCaCertificate,
  });
const specOf = ({ name, url, secret, events }: MlflowWebhookInputs) => ({ name, url, secret, events });

export async function createWebhook(
  inputs: MlflowWebhookInputs,
): Promise<{ id: string; outs: MlflowWebhookOutputs }> {
  const webhook = await clientOf(inputs).createWebhook(specOf(inputs));
  return { id: webhook.webhook_id, outs: { ...inputs, webhookId: webhook.webhook_id } };
}

export async function updateWebhook(id: string, news: MlflowWebhookInputs): Promise<MlflowWebhookOutputs> {
  await clientOf(news).updateWebhook(id, specOf(news));
  return { ...news, webhookId: id };
}

/** MLflow's view: a webhook deleted by hand is gone; a URL or name changed by hand shows as drift. */
export async function readWebhook(
  id: string,
  props: MlflowWebhookOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const live = await clientOf(props).getWebhook(id);
  if (!live) return { id: "", props: {} };
  return { id, props: { ...props, name: live.name, url: live.url } };
}

export async function deleteWebhook(id: string, props: MlflowWebhookOutputs): Promise<void> {
  await clientOf(props).deleteWebhook(id);
}

export const mlflowWebhookProvider: pulumi.dynamic.ResourceProvider<
  MlflowWebhookInputs,
  MlflowWebhookOutputs
> = {
  check: async (_olds, news) => checkWebhookInputs(news) as pulumi.dynamic.CheckResult<MlflowWebhookInputs>,
  diff: async (_id, olds, news) => diffWebhookInputs(olds, news),
  create: async (inputs) => createWebhook(inputs),
  update: async (id, _olds, news) => ({ outs: await updateWebhook(id, news) }),
  read: async (id, props) =>
    readWebhook(id, props!) as Promise<pulumi.dynamic.ReadResult<MlflowWebhookOutputs>>,
  delete: async (id, props) => deleteWebhook(id, props),
};
