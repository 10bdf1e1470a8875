// The webhook receiver faces whatever can reach its port: oversized and slow uploads are refused
// or cut off after a bounded read, few are read at once, and the service keeps serving
// promotions meanwhile. The status page is not on that port; it has a port of its own.
import { connect } from "node:net";
import { freshNamespace, listSeldonDeployments } from "../support/cluster";
import { mlflow, registerModel, uniqueModelName } from "../support/mlflow";
import { metricValue, serviceEnv, startService } from "../support/service";
import { eventually, freePort } from "../support/wait";
import { ANNOTATIONS, LABELS } from "../../engine/vocabulary";

let namespace: string;
let prefix: string;
let port: number;
let statusPort: number;

/** A raw upload to the receiver: the request head, then `body` (and nothing more until closed). */
function upload(head: Record<string, string>, body: Buffer = Buffer.alloc(0)) {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  const lines = Object.entries({ host: "127.0.0.1", ...head }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`POST /webhooks/mlflow HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`);
  if (body.length > 0) socket.write(body);
  let received = "";
  socket.on("data", (chunk) => (received += chunk.toString("latin1")));
  /** The status code answered, or 0 when the connection closed without an answer. */
  const status = new Promise<number>((resolve) =>
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0))),
  );
  return { socket, status };
}

const objectOf = async (model: string) =>
  (await listSeldonDeployments(namespace)).find(
    (o) => o.metadata.annotations[ANNOTATIONS.modelName] === model,
  );

beforeAll(async () => {
  namespace = await freshNamespace("receiver");
  prefix = uniqueModelName("receiver model");
  [port, statusPort] = [await freePort(), await freePort()];
  await startService(
    serviceEnv(namespace, prefix, `receiver-${namespace}`, {
      M2S_HTTP_PORT: String(port),
      M2S_STATUS_PORT: String(statusPort),
      M2S_WEBHOOK_SECRET: "receiver-webhook-secret-0123456789",
      M2S_LOG_LEVEL: "warn",
    }),
  );
});

afterAll(async () => {
  for (const m of await mlflow().listRegisteredModels())
    if (m.name.startsWith(prefix)) await mlflow().deleteRegisteredModel(m.name);
});

test("with webhooks on, the status page is off the webhook port and served on its own port", async () => {
  expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
  const page = await fetch(`http://127.0.0.1:${statusPort}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain(namespace);
});

test("a declared size over the limit is refused before the body is sent", async () => {
  const { socket, status } = upload({
    "content-type": "application/json",
    "content-length": String(10 << 20),
  });
  expect(await status).toBe(413);
  socket.destroy();
});

test("a flood of slow and oversized uploads: at most 8 read at once, each bounded, and a promotion is still served", async () => {
  const model = `${prefix} promoted`;
  await registerModel(model, 1);
  // 60 slow uploads: a valid size declared, one byte sent, then nothing.
  const slow = Array.from({ length: 60 }, () =>
    upload({ "content-type": "application/json", "content-length": "1000" }, Buffer.from("{")),
  );
  // 20 uploads of 2 MiB without a declared size (chunked), sent at once.
  const chunk = Buffer.alloc(2 << 20, 0x20);
  const large = Array.from({ length: 20 }, () =>
    upload(
      { "content-type": "application/json", "transfer-encoding": "chunked" },
      Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n0\r\n\r\n")]),
    ),
  );
  await mlflow().transitionStage(model, "1", "Production");
  // The delta poll serves the promotion while the flood is on.
  const served = await eventually("the promotion", () => objectOf(model));
  expect(served.metadata.labels[LABELS.version]).toBe("1");
  const answered = await Promise.all(
    [...slow, ...large].map((u) => u.status.then((status) => ({ status, at: performance.now() }))),
  );
  const statuses = answered.map((a) => a.status);
  const counts = (code: number) => statuses.filter((s) => s === code).length;
  // Beyond 8 at once: refused unread; the admitted slow ones cut off after the body timeout; the
  // large ones either refused unread or cut off at the size limit. None was accepted.
  expect(counts(408) + counts(413)).toBeGreaterThanOrEqual(1);
  expect(counts(429)).toBeGreaterThanOrEqual(1);
  // Each admitted slow upload holds its slot for the whole body timeout (5 s) and is then cut off:
  // at most 8 of them are answered 408 within any window shorter than that (how many waves got
  // in depends on how fast the flood arrived, so the total is not fixed).
  const cutOff = answered
    .slice(0, slow.length)
    .filter((a) => a.status === 408)
    .map((a) => a.at)
    .sort((a, b) => a - b);
  const window = 5_000 - 500;
  const busiest = Math.max(
    0,
    ...cutOff.map((start) => cutOff.filter((t) => t >= start && t < start + window).length),
  );
  expect(busiest).toBeGreaterThanOrEqual(1);
  expect(busiest).toBeLessThanOrEqual(8);
  expect(counts(408) + counts(413) + counts(429) + counts(0)).toBe(statuses.length);
  expect(counts(202)).toBe(0);
  // The service read at most 8 × 64 KiB of it: its heap did not take the 40 MiB sent.
  expect(await metricValue(port, "nodejs_heap_size_used_bytes")).toBeLessThan(120 << 20);
  expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
});
