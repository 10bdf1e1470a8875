// `/` (the status page), /healthz (the process answers), /readyz (a cycle has fully succeeded)
// and /metrics.
import { createServer, type Server } from "node:http";
import type { Metrics } from "./metrics";
import { renderStatusPage, type StatusPageContent } from "./status-page";

export interface HttpServerOptions {
  port: number;
  metrics: Metrics;
  isReady: () => boolean;
  statusPage: () => StatusPageContent;
}

export function startHttpServer({ port, metrics, isReady, statusPage }: HttpServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
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
