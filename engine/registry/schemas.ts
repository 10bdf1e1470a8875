// zod schemas of the MLflow REST responses the engine reads (MLflow 1.11 through 3.x). MLflow
// omits empty fields, so lists default to empty; fields newer servers add are optional.
import { z } from "zod";

const tagList = z
  .array(z.object({ key: z.string(), value: z.string().default("") }))
  .default([])
  .transform((tags) => Object.fromEntries(tags.map((t) => [t.key, t.value])));

export const modelVersionSchema = z.object({
  name: z.string().min(1),
  version: z.string().regex(/^\d+$/, "a version number"),
  current_stage: z.string().default("None"),
  source: z.string().default(""),
  run_id: z.string().default(""),
  status: z.string().default("READY"),
  tags: tagList,
  aliases: z.array(z.string()).default([]),
});
export type ModelVersion = z.infer<typeof modelVersionSchema>;

export const registeredModelSchema = z.object({
  name: z.string().min(1),
  creation_timestamp: z.coerce.number().optional(),
  /** Bumped by a stage transition, a new or deleted version, a model update (not by alias or tag changes on SQL stores). */
  last_updated_timestamp: z.coerce.number().optional(),
  latest_versions: z.array(modelVersionSchema).default([]),
  tags: tagList,
  aliases: z.array(z.object({ alias: z.string(), version: z.string() })).default([]),
});
export type RegisteredModel = z.infer<typeof registeredModelSchema>;

export const registeredModelsPageSchema = z.object({
  registered_models: z.array(registeredModelSchema).default([]),
  next_page_token: z.string().optional(),
});

export const modelVersionsPageSchema = z.object({
  model_versions: z.array(modelVersionSchema).default([]),
  next_page_token: z.string().optional(),
});

const webhookSchema = z.object({ webhook_id: z.string(), name: z.string(), url: z.string() });
export const webhooksPageSchema = z.object({
  webhooks: z.array(webhookSchema).default([]),
  next_page_token: z.string().optional(),
});
export const webhookResponseSchema = z.object({ webhook: webhookSchema });
export type Webhook = z.infer<typeof webhookSchema>;
/** What a webhook is registered with (entity and action as MLflow's enums spell them). */
export type WebhookSpec = {
  name: string;
  url: string;
  secret: string;
  events: { entity: string; action: string }[];
};

export const modelVersionResponseSchema = z.object({ model_version: modelVersionSchema });
export const registeredModelResponseSchema = z.object({ registered_model: registeredModelSchema });
export const downloadUriSchema = z.object({ artifact_uri: z.string().min(1) });

/** Formats zod issues as `path: message` pairs, naming the field that did not fit. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`)
    .join("; ");
}
