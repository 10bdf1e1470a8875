// A small Kubernetes API client: JSON over one keep-alive HTTPS agent, bearer/basic/client-cert
// and exec-plugin credentials. The engine needs four verbs on one resource; a full generated
// client costs ~65 MiB of resident memory to load and a TLS handshake per request.
import { execFile } from "node:child_process";
import { Agent, request as httpsRequest, type AgentOptions } from "node:https";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { promisify } from "node:util";
import { z } from "zod";
import type { ExecConfig, KubeTarget } from "./config";

/** The API server answered with an error status, or could not be reached (no status). */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const execCredentialSchema = z.object({
  status: z.object({
    token: z.string().optional(),
    clientCertificateData: z.string().optional(),
    clientKeyData: z.string().optional(),
    expirationTimestamp: z.string().optional(),
  }),
});
type ExecCredential = z.infer<typeof execCredentialSchema>["status"];

const statusSchema = z.object({ message: z.string() });
const TIMEOUT_MS = 30_000;

export interface KubeRequest {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | undefined>;
}

export class KubeClient {
  private agent: Agent | HttpAgent;
  private execCredential?: { value: ExecCredential; expires: number };

  constructor(private readonly target: KubeTarget) {
    this.agent = this.makeAgent();
  }

  get server(): string {
    return this.target.server;
  }

  async request<T>(method: string, path: string, options: KubeRequest = {}): Promise<T> {
    try {
      return await this.send<T>(method, path, options);
    } catch (error) {
      // An exec plugin's credential may be revoked before it expires: fetch a new one once.
      if (!(error instanceof KubeApiError && error.status === 401 && this.target.exec)) throw error;
      this.execCredential = undefined;
      return this.send<T>(method, path, options);
    }
  }

  private makeAgent(credential?: ExecCredential): Agent | HttpAgent {
    const options: AgentOptions = {
      keepAlive: true,
      maxSockets: 16,
      ca: this.target.ca,
      cert: credential?.clientCertificateData ?? this.target.cert,
      key: credential?.clientKeyData ?? this.target.key,
      rejectUnauthorized: !this.target.insecureSkipTlsVerify,
      servername: this.target.serverName,
    };
    return this.target.server.startsWith("https:") ? new Agent(options) : new HttpAgent({ keepAlive: true });
  }

  private async headers(): Promise<Record<string, string>> {
    const { token, basic, exec } = this.target;
    if (exec) {
      const credential = await this.execCredentials(exec);
      if (credential.token) return { authorization: `Bearer ${credential.token}` };
      return {};
    }
    if (token) return { authorization: `Bearer ${token()}` };
    if (basic) {
      return {
        authorization: `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString("base64")}`,
      };
    }
    return {};
  }

  /** Runs the exec plugin when there is no unexpired credential; a new client certificate gets a new agent. */
  private async execCredentials(exec: ExecConfig): Promise<ExecCredential> {
    if (this.execCredential && this.execCredential.expires > Date.now()) return this.execCredential.value;
    const info = { apiVersion: exec.apiVersion, kind: "ExecCredential", spec: { interactive: false } };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const { name, value } of exec.env ?? []) env[name] = value;
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(exec.command, exec.args ?? [], { env, timeout: TIMEOUT_MS }));
    } catch (error) {
      throw new KubeApiError(`exec credential plugin ${exec.command} failed: ${(error as Error).message}`);
    }
    let parsed;
    try {
      parsed = execCredentialSchema.safeParse(JSON.parse(stdout));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success)
      throw new KubeApiError(`exec credential plugin ${exec.command} printed no ExecCredential`);
    const value = parsed.data.status;
    const previous = this.execCredential?.value;
    if (
      value.clientCertificateData !== previous?.clientCertificateData ||
      value.clientKeyData !== previous?.clientKeyData
    ) {
      this.agent.destroy();
      this.agent = this.makeAgent(value);
    }
    // A credential without expiry is reused until the server refuses it (401).
    const expires = value.expirationTimestamp ? Date.parse(value.expirationTimestamp) - 10_000 : Infinity;
    this.execCredential = { value, expires };
    return value;
  }

  private async send<T>(method: string, path: string, options: KubeRequest): Promise<T> {
    const url = new URL(path.replace(/^\//, ""), this.target.server.replace(/\/*$/, "/"));
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = { accept: "application/json", ...(await this.headers()) };
    if (body) {
      headers["content-type"] = options.contentType ?? "application/json";
      headers["content-length"] = String(body.length);
    }
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.agent, timeout: TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (error) => reject(new KubeApiError(`response from ${url.host}: ${error.message}`)));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          if (status >= 200 && status < 300) {
            if (json === undefined && text)
              reject(new KubeApiError(`${method} ${url.pathname}: response is not JSON`, status));
            else resolve(json as T);
            return;
          }
          const message = statusSchema.safeParse(json);
          reject(
            new KubeApiError(
              message.success ? message.data.message : text.slice(0, 500) || `HTTP ${status}`,
              status,
            ),
          );
        });
      });
      req.on("timeout", () => req.destroy(new Error(`timed out after ${TIMEOUT_MS / 1000} s`)));
      req.on("error", (error) => reject(new KubeApiError(`cannot reach ${url.host}: ${error.message}`)));
      req.end(body);
    });
  }
}
