// A loopback HTTP proxy in front of a real server (MLflow, or the kube-apiserver over TLS with the
// testbed's admin credentials) that sees every request and can, per request, pass it, delay it,
// answer it itself, rewrite the upstream's JSON answer, or hold it forever (a stalled network).
// It records what it forwarded and when, so a test can count what reached the real server.
import { once } from "node:events";
import {
  request as httpRequest,
  createServer,
  type ClientRequest,
  type IncomingMessage,
  type Server,
} from "node:http";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
}

export type ProxyAction =
  | { kind: "pass"; delayMs?: number }
  | { kind: "respond"; status: number; body: unknown }
  | { kind: "rewrite"; change: (json: unknown) => unknown }
  | { kind: "hold" };

export interface Upstream {
  url: string;
  /** The CA of an https upstream, and client credentials where it asks for them (the kube-apiserver). */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

export interface Forwarded extends ProxiedRequest {
  /** When the request was sent upstream (ms since the epoch). */
  at: number;
}

const PASS: ProxyAction = { kind: "pass" };

export class HttpFaultProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** Requests to the upstream still open (a watch stays open until the server ends it). */
  private readonly upstreamRequests = new Set<ClientRequest>();
  /** Adjusts the URL of every forwarded request (e.g. narrows a search to a test's models). */
  adjust: (url: URL) => void = () => undefined;
  /** Decides what happens to each request (default: pass). */
  decide: (request: ProxiedRequest) => ProxyAction | Promise<ProxyAction> = () => PASS;
  readonly forwarded: Forwarded[] = [];

  constructor(private readonly upstream: Upstream) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        ({ status, headers, body }) => {
          if (body === undefined) return; // held
          res.writeHead(status, headers).end(body);
        },
        () => res.destroy(),
      );
    });
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const request of this.upstreamRequests) request.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  /** Cuts every open connection (kept-alive ones too): the next request decides afresh. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private async handle(
    req: IncomingMessage,
  ): Promise<{ status: number; headers: Record<string, string>; body?: Buffer }> {
    const url = new URL(req.url ?? "/", "http://proxy");
    const request = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams };
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const action = await this.decide(request);
    if (action.kind === "hold") return new Promise(() => undefined);
    if (action.kind === "respond")
      return {
        status: action.status,
        headers: { "content-type": "application/json" },
        body: Buffer.from(JSON.stringify(action.body)),
      };
    if (action.kind === "pass" && action.delayMs) await new Promise((r) => setTimeout(r, action.delayMs));
    return this.forward(
      req,
      request,
      Buffer.concat(chunks),
      action.kind === "rewrite" ? action.change : undefined,
    );
  }

  private forward(
    req: IncomingMessage,
    request: ProxiedRequest,
    body: Buffer,
    change?: (json: unknown) => unknown,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const target = new URL(req.url ?? "/", this.upstream.url);
    this.adjust(target);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const headers = { ...req.headers, host: target.host };
    delete headers.connection;
    this.forwarded.push({ ...request, at: Date.now() });
    return new Promise((resolve, reject) => {
      const upstream = send(
        target,
        { method: req.method, headers, ...this.upstream.tls, agent: false },
        (res) => {
          const read = async () => {
            const parts: Buffer[] = [];
            for await (const part of res) parts.push(part as Buffer);
            let answer = Buffer.concat(parts);
            if (change) answer = Buffer.from(JSON.stringify(change(JSON.parse(answer.toString("utf8")))));
            const out: Record<string, string> = {};
            for (const [key, value] of Object.entries(res.headers))
              if (value !== undefined && !["content-length", "transfer-encoding", "connection"].includes(key))
                out[key] = String(value);
            return { status: res.statusCode ?? 502, headers: out, body: answer };
          };
          // A response cut short (the proxy stopping) rejects like a failed request.
          read().then(resolve, reject);
        },
      );
      this.upstreamRequests.add(upstream);
      upstream.on("close", () => this.upstreamRequests.delete(upstream));
      upstream.on("error", reject);
      upstream.end(body);
    });
  }
}
