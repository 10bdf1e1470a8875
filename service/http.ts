// The service's HTTP endpoints: /healthz (the process answers), /readyz (a cycle has fully
// succeeded), /metrics, POST /webhooks/mlflow (MLflow's registry webhooks, when a secret is set)
// and the status page at `/` where it is served. The webhook port faces MLflow and so whoever can
// reach it: a delivery is admitted before its body is read, its size and time are bounded, and
// few are read at once, so a flood of slow or large uploads costs little memory.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Metrics } from "./metrics";
import type { DeliveryAnswer } from "./scheduler";
import { renderStatusPage, type StatusPageContent } from "./status-page";

/** The webhook receiver: admission before the body is read, then the delivery itself. */
export interface WebhookReceiver {
  admit: () => DeliveryAnswer | undefined;
  receive: (headers: IncomingMessage["headers"], body: Buffer) => DeliveryAnswer;
}

export interface HttpServerOptions {
  port: number;
  metrics: Metrics;
  isReady: () => boolean;
  /** The page at `/`; absent: not served on this port. */
  statusPage?: () => StatusPageContent;
  /** Absent when webhooks are off. */
  webhook?: WebhookReceiver;
}

/** A delivery is a small JSON document (MLflow's largest carries a version's description and tags). */
export const MAX_DELIVERY_BYTES = 64 * 1024;
/** Deliveries read at once; more get 429 and MLflow's retry. */
export const MAX_CONCURRENT_DELIVERIES = 8;
/** Time a delivery's body may take to arrive. */
const BODY_TIMEOUT_MS = 5_000;
/** Bounds for every request on the port (Node's defaults allow 300 s). */
const HEADERS_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** Answers and closes the connection: the unread rest of the body is never read. */
function refuse(res: ServerResponse, answer: DeliveryAnswer, retryAfterSeconds?: number): void {
  res
    .writeHead(answer.status, {
      "content-type": "text/plain",
      connection: "close",
      ...(retryAfterSeconds === undefined ? {} : { "retry-after": String(retryAfterSeconds) }),
    })
    .end(`${answer.text}\n`);
}

/** The body, or why it was not read: too large (413) or too slow (408). */
function readBody(req: IncomingMessage): Promise<Buffer | DeliveryAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => finish({ status: 408, text: "body too slow" }), BODY_TIMEOUT_MS);
    const finish = (result: Buffer | DeliveryAnswer) => {
      clearTimeout(timer);
      req.removeAllListeners("data");
      resolve(result);
    };
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DELIVERY_BYTES) finish({ status: 413, text: "too large" });
      else chunks.push(chunk);
    });
    req.on("end", () => finish(Buffer.concat(chunks)));
    req.on("error", () => finish({ status: 400, text: "broken upload" }));
  });
}

export function startHttpServer({
  port,
  metrics,
  isReady,
  statusPage,
  webhook,
}: HttpServerOptions): Promise<Server> {
  let deliveriesInFlight = 0;
  const receive = (req: IncomingMessage, res: ServerResponse, receiver: WebhookReceiver) => {
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const refused = receiver.admit();
    if (refused) return refuse(res, refused, refused.status === 503 ? 1 : undefined);
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_DELIVERY_BYTES) return refuse(res, { status: 413, text: "too large" });
    if (deliveriesInFlight >= MAX_CONCURRENT_DELIVERIES)
      return refuse(res, { status: 429, text: "too many deliveries at once" }, 1);
    deliveriesInFlight++;
    void readBody(req).then((body) => {
      deliveriesInFlight--;
      if (Buffer.isBuffer(body)) {
        const answer = receiver.receive(req.headers, body);
        res.writeHead(answer.status, { "content-type": "text/plain" }).end(`${answer.text}\n`);
      } else refuse(res, body);
    });
  };
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/webhooks/mlflow" && webhook) {
      receive(req, res, webhook);
    } else if (path === "/" && statusPage && (req.method === "GET" || req.method === "HEAD")) {
      res
        .writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
        .end(renderStatusPage(statusPage()));
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const ready = isReady();
      res
        .writeHead(ready ? 200 : 503, { "content-type": "text/plain" })
        .end(ready ? "ready\n" : "no successful cycle yet\n");
    } else if (path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve(server));
  });
}
