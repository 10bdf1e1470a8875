// MLflow's registry webhooks (MLflow >= 3.3): each delivery is checked before it is believed.
// MLflow signs `{delivery id}.{unix timestamp}.{raw body}` with HMAC-SHA256 and the webhook's
// secret, sent as `X-MLflow-Signature: v1,<base64>`; a delivery that is unsigned, wrongly signed,
// too old or seen before is refused. What a delivery names is only a hint: the model is read
// from MLflow again before anything changes.
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

/** The registry events whose deliveries name a model whose serving may have changed. */
export const WEBHOOK_EVENTS = [
  { entity: "REGISTERED_MODEL", action: "CREATED" },
  { entity: "MODEL_VERSION", action: "CREATED" },
  { entity: "MODEL_VERSION_TAG", action: "SET" },
  { entity: "MODEL_VERSION_TAG", action: "DELETED" },
  { entity: "MODEL_VERSION_ALIAS", action: "CREATED" },
  { entity: "MODEL_VERSION_ALIAS", action: "DELETED" },
] as const;

/** How far a delivery's timestamp may be from now (MLflow's own receiver example allows 5 min). */
const MAX_AGE_SECONDS = 300;

const deliverySchema = z.object({
  entity: z.string(),
  action: z.string(),
  data: z.looseObject({ name: z.string().min(1) }),
});

export type WebhookVerdict =
  { status: 202; model: string; event: string } | { status: 400 | 401 | 409; reason: string };

export class WebhookVerifier {
  /** Delivery ids seen within the accepted window, with when they may be forgotten. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly secret: string,
    private readonly nowSeconds: () => number = () => Date.now() / 1000,
  ) {}

  verify(headers: Record<string, string | string[] | undefined>, body: Buffer): WebhookVerdict {
    const header = (name: string) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const id = header("x-mlflow-delivery-id");
    const timestamp = header("x-mlflow-timestamp");
    const signature = header("x-mlflow-signature");
    if (!id || !timestamp || !signature) return { status: 401, reason: "unsigned delivery" };
    const expected = Buffer.from(
      `v1,${createHmac("sha256", this.secret).update(`${id}.${timestamp}.`).update(body).digest("base64")}`,
    );
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { status: 401, reason: "wrong signature" };
    const now = this.nowSeconds();
    if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp)) > MAX_AGE_SECONDS)
      return { status: 401, reason: "stale timestamp" };
    this.forgetBefore(now);
    if (this.seen.has(id)) return { status: 409, reason: "repeated delivery" };
    this.seen.set(id, Number(timestamp) + MAX_AGE_SECONDS);
    let parsed;
    try {
      parsed = deliverySchema.safeParse(JSON.parse(body.toString("utf8")));
    } catch {
      return { status: 400, reason: "body is not JSON" };
    }
    if (!parsed.success) return { status: 400, reason: "no data.name in the delivery" };
    const { entity, action, data } = parsed.data;
    return { status: 202, model: data.name, event: `${entity}.${action}` };
  }

  /** Ids older than the window can no longer be replayed (their timestamp would be stale). */
  private forgetBefore(now: number): void {
    for (const [id, until] of this.seen) {
      if (until >= now) break; // kept in arrival order, which is (nearly) timestamp order
      this.seen.delete(id);
    }
  }
}
