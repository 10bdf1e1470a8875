// A Pulumi dynamic resource for the MLflow webhook that tells a sync service of registry events
// (type pulumi-nodejs:dynamic/mlflow2seldon:MlflowWebhook): created by `pulumi up`, changed in
// place when its URL, events or secret change (a rotated secret needs no manual step in MLflow),
// deleted by `pulumi destroy`. Its provider is `mlflowWebhookProvider` in webhook-runtime.ts.
import * as pulumi from "@pulumi/pulumi";
import { WEBHOOK_EVENTS } from "../service/webhook";
import { DynamicResource } from "./dynamic-resource";

export interface MlflowWebhookArgs {
  /** MLflow tracking server URL (MLflow 3.3 or newer: webhooks). */
  mlflowUrl: pulumi.Input<string>;
  /**
   * MLflow credentials that may manage webhooks (with MLflow's basic-auth app, an admin's). Kept
   * secret in the stack's state.
   */
  mlflowToken?: pulumi.Input<string>;
  mlflowUsername?: pulumi.Input<string>;
  /** Kept secret in the stack's state. */
  mlflowPassword?: pulumi.Input<string>;
  /** PEM of the CA that signed MLflow's certificate, when not a public one. */
  mlflowCaCertificate?: pulumi.Input<string>;
  /** The webhook's name in MLflow. */
  name: pulumi.Input<string>;
  /** The receiver's URL as MLflow reaches it (the sync service's /webhooks/mlflow). */
  url: pulumi.Input<string>;
  /** Shared secret MLflow signs deliveries with (the service's M2S_WEBHOOK_SECRET). Kept secret in state. */
  secret: pulumi.Input<string>;
  /** Registry events to deliver (default: those the sync service acts on). */
  events?: pulumi.Input<pulumi.Input<{ entity: string; action: string }>[]>;
}

export class MlflowWebhook extends DynamicResource {
  /** MLflow's id of the webhook. */
  declare readonly webhookId: pulumi.Output<string>;

  constructor(name: string, args: MlflowWebhookArgs, opts?: pulumi.CustomResourceOptions) {
    const secrets = ["mlflowToken", "mlflowPassword", "secret"];
    super(
      "mlflowWebhookProvider",
      "MlflowWebhook",
      name,
      {
        ...args,
        mlflowToken: args.mlflowToken === undefined ? undefined : pulumi.secret(args.mlflowToken),
        mlflowPassword: args.mlflowPassword === undefined ? undefined : pulumi.secret(args.mlflowPassword),
        secret: pulumi.secret(args.secret),
        events: args.events ?? WEBHOOK_EVENTS.map((e) => ({ ...e })),
        webhookId: undefined,
      },
      { ...opts, additionalSecretOutputs: [...secrets, ...(opts?.additionalSecretOutputs ?? [])] },
    );
  }
}
