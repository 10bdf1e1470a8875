// Which proxy reaches an API server, and an HTTPS agent that tunnels through it with CONNECT
// while keeping its TLS connections alive (one handshake per pooled socket, as without a proxy).
import { request as httpRequest } from "node:http";
import { Agent, type AgentOptions, type RequestOptions } from "node:https";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

/**
 * The proxy for `server`: the kubeconfig's proxy-url, else HTTPS_PROXY / HTTP_PROXY unless
 * NO_PROXY names the host (as Go's ProxyFromEnvironment: loopback hosts are never proxied).
 */
export function proxyFor(
  server: string,
  proxyUrl: string | undefined,
  env: NodeJS.ProcessEnv,
): URL | undefined {
  if (proxyUrl) return new URL(proxyUrl);
  const target = new URL(server);
  const fromEnv =
    target.protocol === "https:" ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!fromEnv) return undefined;
  const host = target.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || /^127\./.test(host) || host === "::1") return undefined;
  const port = target.port || (target.protocol === "https:" ? "443" : "80");
  const excluded = (env.NO_PROXY ?? env.no_proxy ?? "")
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => {
      if (entry === "*") return true;
      const [name, entryPort] = entry.split(/:(?=\d+$)/);
      if (entryPort && entryPort !== port) return false;
      const suffix = name.replace(/^\*?\./, "");
      return host === suffix || host.endsWith(`.${suffix}`);
    });
  return excluded ? undefined : new URL(fromEnv.includes("://") ? fromEnv : `http://${fromEnv}`);
}

/** An HTTPS agent whose sockets are TLS over a CONNECT tunnel through an HTTP proxy. */
export class TunnelingAgent extends Agent {
  constructor(
    private readonly proxy: URL,
    options: AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: RequestOptions,
    done?: (error: Error | null, socket: Duplex) => void,
  ): undefined {
    const callback = done ?? (() => {});
    const target = `${options.host}:${options.port}`;
    const auth = this.proxy.username
      ? {
          "proxy-authorization": `Basic ${Buffer.from(`${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`).toString("base64")}`,
        }
      : undefined;
    const connect = httpRequest({
      host: this.proxy.hostname,
      port: this.proxy.port || 80,
      method: "CONNECT",
      path: target,
      headers: { host: target, ...auth },
    });
    connect.once("connect", (response, socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        callback(
          new Error(`proxy ${this.proxy.host} refused CONNECT ${target} (HTTP ${response.statusCode})`),
          socket,
        );
        return;
      }
      const tls: ConnectionOptions = { ...(options as ConnectionOptions), socket };
      // SNI carries host names only, as Node's own agent does.
      const name = options.servername ?? options.host ?? undefined;
      tls.servername = name && !isIP(name) ? name : undefined;
      callback(null, tlsConnect(tls));
    });
    connect.once("error", (error) =>
      callback(new Error(`proxy ${this.proxy.host}: ${error.message}`), connect.socket!),
    );
    connect.end();
    return undefined;
  }
}
