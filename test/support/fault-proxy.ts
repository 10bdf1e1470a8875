// A loopback TCP proxy in front of the real MLflow server that can inject the faults a network
// and a load balancer produce: connection resets, 503s, 429s, malformed pages and hangs, for good
// or for the next few connections only. In front of an https:// server it speaks TLS on both
// sides with the testbed's certificate for that server, so its faults are answers over TLS too.
import { readFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import * as tls from "node:tls";

export type FaultMode = "pass" | "reset" | "http503" | "http429" | "malformed" | "hang";

export class FaultProxy {
  private mode: FaultMode = "pass";
  /** Connections left before the mode goes back to "pass" (undefined: for good). */
  private remaining?: number;
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: URL) {}

  private get secure(): boolean {
    return this.target.protocol === "https:";
  }

  async start(): Promise<string> {
    const file = (name: string) => {
      const path = process.env[name];
      if (!path) throw new Error(`${name} is not set: the testbed environment was not loaded`);
      return readFileSync(path);
    };
    this.server = this.secure
      ? tls.createServer(
          { key: file("M2S_TESTBED_MLFLOW_PROD_TLS_KEY"), cert: file("M2S_TESTBED_MLFLOW_PROD_TLS_CERT") },
          (client) => this.handle(client),
        )
      : createServer((client) => this.handle(client));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (!address || typeof address === "string") throw new Error("proxy has no port");
    return `${this.secure ? "https" : "http"}://127.0.0.1:${address.port}`;
  }

  /** Switches the fault; open (kept-alive) connections are cut so the next request sees it. */
  setMode(mode: FaultMode): void {
    this.mode = mode;
    this.remaining = undefined;
    for (const socket of this.sockets) socket.destroy();
  }

  /** The fault for the next `count` connections (each answers one request), then "pass". */
  failNext(mode: FaultMode, count: number): void {
    this.setMode(mode);
    this.remaining = count;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(client: Socket): void {
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => undefined);
    const respond = (status: string, body: string) =>
      client.end(
        `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    const mode = this.mode;
    if (this.remaining !== undefined && --this.remaining <= 0) {
      // Later connections pass; this one still gets its fault.
      this.mode = "pass";
      this.remaining = undefined;
    }
    switch (mode) {
      case "reset":
        // Over TLS the connection is cut without a close_notify (an RST needs the bare TCP handle).
        if (client instanceof tls.TLSSocket) client.destroy();
        else client.resetAndDestroy();
        return;
      case "http503":
        client.once("data", () =>
          respond("503 Service Unavailable", '{"error_code":"TEMPORARILY_UNAVAILABLE","message":"down"}'),
        );
        return;
      case "http429":
        client.once("data", () =>
          respond("429 Too Many Requests", '{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}'),
        );
        return;
      case "malformed":
        client.once("data", () => respond("200 OK", '{"registered_models":"not-a-list"}'));
        return;
      case "hang":
        return;
      case "pass": {
        const port = Number(this.target.port);
        const upstream = this.secure
          ? tls.connect({
              port,
              host: this.target.hostname,
              ca: readFileSync(process.env.M2S_TESTBED_MLFLOW_PROD_CA!),
            })
          : connect(port, this.target.hostname);
        this.sockets.add(upstream);
        upstream.on("close", () => this.sockets.delete(upstream));
        upstream.on("error", () => client.destroy());
        client.pipe(upstream).pipe(client);
      }
    }
  }
}
