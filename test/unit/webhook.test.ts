import { createHmac } from "node:crypto";
import { WebhookVerifier } from "../../service/webhook";

const SECRET = "a-secret-of-sixteen-plus";
const body = Buffer.from(
  JSON.stringify({ entity: "model_version_alias", action: "created", data: { name: "m" } }),
);

function headers(id: string, timestamp: number, secret = SECRET) {
  const signature = createHmac("sha256", secret).update(`${id}.${timestamp}.`).update(body).digest("base64");
  return {
    "x-mlflow-delivery-id": id,
    "x-mlflow-timestamp": String(timestamp),
    "x-mlflow-signature": `v1,${signature}`,
  };
}

test("a signed, fresh, new delivery names its model; a repeat within the window is refused", () => {
  let now = 1_000_000;
  const verifier = new WebhookVerifier(SECRET, () => now);
  expect(verifier.verify(headers("a", now), body)).toEqual({
    status: 202,
    model: "m",
    event: "model_version_alias.created",
  });
  expect(verifier.verify(headers("a", now), body)).toMatchObject({ status: 409 });
  // Past the window the id is forgotten, and its timestamp is stale anyway.
  now += 301;
  expect(verifier.verify(headers("a", now - 301), body)).toMatchObject({
    status: 401,
    reason: "stale timestamp",
  });
});

test("a signature made with another secret or over another body is refused", () => {
  const verifier = new WebhookVerifier(SECRET, () => 1_000);
  expect(verifier.verify(headers("b", 1_000, "another-secret-value"), body)).toMatchObject({ status: 401 });
  expect(verifier.verify(headers("c", 1_000), Buffer.from("{}"))).toMatchObject({
    status: 401,
    reason: "wrong signature",
  });
  expect(verifier.verify({}, body)).toMatchObject({ status: 401, reason: "unsigned delivery" });
});
