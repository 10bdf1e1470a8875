// A small Kubernetes API client: JSON over one keep-alive HTTPS agent, bearer/basic/client-cert
// and exec-plugin credentials. The engine needs four verbs on one resource; a full generated
// client costs ~65 MiB of resident memory to load and a TLS handshake per request.
import { execFile } from "node:child_process";
import { Agent, request as httpsRequest, type AgentOptions } from "node:https";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { promisify } from "node:util";
import { z } from "zod";
import type { ExecConfig, KubeTarget } from "./config";
import { proxyFor, TunnelingAgent } from "./proxy";

/** The API server answered with an error status, or could not be reached (no status). */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  constructor(
    message: string,
    readonly status?: number,
    /** The server's Retry-After, when it sent one (429, 503). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const RETRIES = 3;
const RETRY_BASE_MS = 200;
const MAX_RETRY_AFTER_MS = 10_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
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
const WATCH_IDLE_MS = 90_000;

export interface KubeRequest {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | undefined>;
  /** Receives each warning the API server sends (deprecations, admission policies with Warn). */
  onWarning?: (message: string) => void;
  /** Runs before every attempt, retries included; throwing stops the request unsent. */
  beforeAttempt?: () => void;
}

/** The texts of `Warning: 299 - "text"` response headers (RFC 7234 form, as the API server sends them). */
function warningsOf(rawHeaders: string[]): string[] {
  const warnings: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== "warning") continue;
    const match = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(rawHeaders[i + 1]);
    warnings.push(match ? match[1].replace(/\\(.)/g, "$1") : rawHeaders[i + 1]);
  }
  return warnings;
}

/** kubeconfig `as`, `as-uid` and `as-groups`: the API server acts as that user (RBAC permitting). */
function impersonationHeaders(target: KubeTarget): Record<string, string> {
  const headers: Record<string, string> = {};
  if (target.impersonate?.user) headers["impersonate-user"] = target.impersonate.user;
  if (target.impersonate?.uid) headers["impersonate-uid"] = target.impersonate.uid;
  // Node joins repeated headers with ", ", which the API server splits again.
  if (target.impersonate?.groups?.length) headers["impersonate-group"] = target.impersonate.groups.join(", ");
  return headers;
}

/** Flag and variable names whose values are credentials. */
const SECRET_NAME = /secret|token|password|passwd|credential|api[-_]?key|private[-_]?key/i;

/** The values a plugin was given under secret-looking names (flags `--x-secret=v` or `--x-secret v`, env). */
function secretValues(exec: ExecConfig): string[] {
  const args = exec.args ?? [];
  const values: string[] = [];
  args.forEach((arg, i) => {
    const flag = /^--?([^=]+)(?:=(.*))?$/.exec(arg);
    if (!flag || !SECRET_NAME.test(flag[1])) return;
    const value = flag[2] ?? args[i + 1];
    if (value) values.push(value);
  });
  for (const { name, value } of exec.env ?? []) if (SECRET_NAME.test(name) && value) values.push(value);
  return values;
}

/**
 * Why an exec credential plugin failed, safe to log and show: the plugin by name and its exit
 * code or signal, and the start of its stderr with credentials redacted. Its arguments are never
 * repeated: they often carry a client secret.
 */
export function describeExecFailure(exec: ExecConfig, error: unknown): string {
  const failure = error as { code?: unknown; signal?: unknown; killed?: boolean; stderr?: unknown };
  const name = exec.command.split(/[\\/]/).pop();
  const how =
    typeof failure.code === "number"
      ? `exited with code ${failure.code}`
      : failure.killed || failure.signal
        ? `was stopped (${String(failure.signal ?? "timeout")})`
        : `could not run (${typeof failure.code === "string" ? failure.code : "unknown error"})`;
  let stderr = typeof failure.stderr === "string" ? failure.stderr : "";
  for (const value of secretValues(exec)) stderr = stderr.split(value).join("<redacted>");
  stderr = stderr
    .replace(/(bearer|basic)\s+[^\s"']+/gi, "$1 <redacted>")
    .replace(
      /([\w.-]*(?:secret|token|password|passwd|credential|api[-_]?key|private[-_]?key)[\w.-]*["']?\s*[=:]\s*["']?)[^\s"',}]+/gi,
      "$1<redacted>",
    )
    .replace(
      /(--?[\w.-]*(?:secret|token|password|passwd|credential)[\w.-]*\s+)(?!<redacted>)[^\s-][^\s]*/gi,
      "$1<redacted>",
    )
    .trim()
    .slice(0, 300);
  return `exec credential plugin ${name} ${how}${stderr ? `: ${stderr}` : ""}`;
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

  /**
   * One API call. An idempotent one (every method but POST) is retried on 429, 5xx and network
   * errors, after the server's Retry-After or an exponential backoff; an exec credential the
   * server refuses (401) is fetched anew once.
   */
  async request<T>(method: string, path: string, options: KubeRequest = {}): Promise<T> {
    let renewedCredential = false;
    for (let attempt = 0; ; attempt++) {
      options.beforeAttempt?.();
      try {
        return await this.send<T>(method, path, options);
      } catch (error) {
        if (!(error instanceof KubeApiError)) throw error;
        if (error.status === 401 && this.target.exec && !renewedCredential) {
          renewedCredential = true;
          this.execCredential = undefined;
          continue;
        }
        const transient = error.status === undefined || error.status === 429 || error.status >= 500;
        if (!transient || method === "POST" || attempt >= RETRIES) throw error;
        await sleep(error.retryAfterMs ?? RETRY_BASE_MS * 2 ** attempt);
      }
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
    if (!this.target.server.startsWith("https:")) return new HttpAgent({ keepAlive: true });
    const proxy = proxyFor(this.target.server, this.target.proxyUrl, process.env);
    return proxy ? new TunnelingAgent(proxy, options) : new Agent(options);
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
      throw new KubeApiError(describeExecFailure(exec, error));
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

  /** The URL and headers of one request (credentials fetched or refreshed as needed). */
  private async prepare(path: string, options: KubeRequest) {
    const url = new URL(path.replace(/^\//, ""), this.target.server.replace(/\/*$/, "/"));
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = {
      accept: "application/json",
      ...(await this.headers()),
      ...impersonationHeaders(this.target),
    };
    if (body) {
      headers["content-type"] = options.contentType ?? "application/json";
      headers["content-length"] = String(body.length);
    }
    return { url, headers, body, send: url.protocol === "https:" ? httpsRequest : httpRequest };
  }

  /**
   * A watch: each event (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`) goes to `onEvent`
   * as it arrives; resolves when the server ends the watch (its `timeoutSeconds`) or `signal`
   * aborts, rejects when it cannot start or the connection breaks.
   */
  async watch(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (event: { type: string; object: unknown }) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const { url, headers, send } = await this.prepare(path, { query: { ...query, watch: "true" } });
    return new Promise<void>((resolve, reject) => {
      // An idle watch still gets a bookmark about once a minute; silence beyond that is a dead connection.
      const req = send(
        url,
        { method: "GET", headers, agent: this.agent, timeout: WATCH_IDLE_MS, signal },
        (res) => {
          if (res.statusCode !== 200) {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              reject(
                new KubeApiError(
                  `watch ${url.pathname}: ${text.slice(0, 500) || `HTTP ${res.statusCode}`}`,
                  res.statusCode,
                ),
              );
            });
            return;
          }
          let pending = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            const lines = (pending + chunk).split("\n");
            pending = lines.pop() ?? "";
            for (const line of lines)
              if (line.trim()) onEvent(JSON.parse(line) as { type: string; object: unknown });
          });
          res.on("end", () => resolve());
          res.on("error", (error) =>
            signal.aborted ? resolve() : reject(new KubeApiError(`watch ${url.pathname}: ${error.message}`)),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no event for ${WATCH_IDLE_MS / 1000} s`)));
      req.on("error", (error) =>
        signal.aborted ? resolve() : reject(new KubeApiError(`watch ${url.pathname}: ${error.message}`)),
      );
      req.end();
    });
  }

  private async send<T>(method: string, path: string, options: KubeRequest): Promise<T> {
    const { url, headers, body, send } = await this.prepare(path, options);
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
            if (options.onWarning) warningsOf(res.rawHeaders).forEach(options.onWarning);
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
              retryAfterMs(res.headers["retry-after"]),
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
