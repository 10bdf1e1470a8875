// `/` (the status page), /healthz (the process answers), /readyz (a cycle has fully succeeded),
// /metrics, and POST /webhooks/mlflow (MLflow's registry webhooks, when a secret is set).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Metrics } from "./metrics";
import { renderStatusPage, type StatusPageContent } from "./status-page";

export interface HttpServerOptions {
  port: number;
  metrics: Metrics;
  isReady: () => boolean;
  statusPage: () => StatusPageContent;
  /** Answers one webhook delivery (status and a short text); absent when webhooks are off. */
  webhook?: (headers: IncomingMessage["headers"], body: Buffer) => { status: number; text: string };
}

/** A delivery is a small JSON document; anything bigger is refused before it is read. */
const MAX_WEBHOOK_BYTES = 1 << 20;

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_WEBHOOK_BYTES) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function startHttpServer({
  port,
  metrics,
  isReady,
  statusPage,
  webhook,
}: HttpServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/webhooks/mlflow" && webhook) {
      if (req.method !== "POST") {
        res.writeHead(405, { allow: "POST" }).end();
        return;
      }
      readBody(req).then(
        (body) => {
          const answer = body ? webhook(req.headers, body) : { status: 413, text: "too large" };
          res
            .writeHead(answer.status, {
              "content-type": "text/plain",
              ...(answer.status === 503 ? { "retry-after": "1" } : {}),
            })
            .end(`${answer.text}\n`);
        },
        () => res.destroy(),
      );
    } else if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
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
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve(server));
  });
}
