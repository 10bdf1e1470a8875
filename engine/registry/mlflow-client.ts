// MLflow Model Registry REST client (axios + zod). Every response is validated; any failure is
// a RegistryError naming the endpoint, never an empty result. Transient failures (network,
// timeout, 429, 5xx) are retried with exponential backoff.
import axios, { AxiosError, type AxiosInstance } from "axios";
import { readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { z } from "zod";
import { ConfigError, RegistryAccessError, RegistryError, RegistryResponseError } from "../errors";
import {
  describeIssues,
  downloadUriSchema,
  modelVersionResponseSchema,
  modelVersionsPageSchema,
  registeredModelResponseSchema,
  registeredModelsPageSchema,
  webhookResponseSchema,
  webhooksPageSchema,
  type ModelVersion,
  type RegisteredModel,
  type Webhook,
  type WebhookSpec,
} from "./schemas";

export interface MlflowClientOptions {
  /** Base URL of the tracking server, e.g. http://mlflow:5000 (a path prefix is kept). */
  url: string;
  /** Bearer token (MLFLOW_TRACKING_TOKEN); takes precedence over basic credentials. */
  token?: string;
  username?: string;
  password?: string;
  /** PEM file of a custom CA for https servers. */
  caFile?: string;
  /** The custom CA's PEM content itself (instead of caFile). */
  caCertificate?: string;
  timeoutMs?: number;
  /** Attempts after the first for a transient failure. */
  retries?: number;
  /** First backoff delay; doubles per attempt. */
  backoffMs?: number;
  /** Page size for searches (MLflow caps it at 1000). */
  pageSize?: number;
}

const API = "api/2.0/mlflow";

/** One page of a paged MLflow listing. */
export interface Page<T> {
  items: T[];
  /** The next page's token; none after the last page. */
  nextPageToken?: string;
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One record per model: of two reads of the same model, the more recently updated. */
export function newestByName(models: RegisteredModel[]): RegisteredModel[] {
  const byName = new Map<string, RegisteredModel>();
  for (const model of models) {
    const seen = byName.get(model.name);
    if (!seen || (model.last_updated_timestamp ?? 0) >= (seen.last_updated_timestamp ?? 0))
      byName.set(model.name, model);
  }
  return [...byName.values()];
}

export class MlflowClient {
  private readonly http: AxiosInstance;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly pageSize: number;
  /**
   * `observe.request` sees every HTTP request sent, retries included, and `observe.connection`
   * every connection opened (the service counts both in metrics).
   */
  constructor(
    options: MlflowClientOptions,
    private readonly observe: { request?: (endpoint: string) => void; connection?: () => void } = {},
  ) {
    const base = new URL(options.url);
    if (base.username || base.password) {
      throw new ConfigError([
        {
          setting: "MLflow URL",
          message: "put credentials in the username/password settings, not in the URL",
        },
      ]);
    }
    this.retries = options.retries ?? 3;
    this.backoffMs = options.backoffMs ?? 250;
    this.pageSize = options.pageSize ?? 200;
    const headers: Record<string, string> = {};
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    this.http = axios.create({
      baseURL: `${base.origin}${base.pathname.replace(/\/+$/, "")}/${API}/`,
      timeout: options.timeoutMs ?? 10_000,
      headers,
      auth:
        !options.token && options.username
          ? { username: options.username, password: options.password ?? "" }
          : undefined,
      // Keep-alive within a cycle (one TLS handshake, not one per request); an idle socket is
      // closed by us before the server's keep-alive timeout (gunicorn 2 s, uvicorn 5 s) can race
      // a request, and a reset that still happens is retried (GETs only).
      httpAgent: countingConnections(new HttpAgent(KEEP_ALIVE), this.observe),
      httpsAgent: countingConnections(
        new HttpsAgent({
          ...KEEP_ALIVE,
          ca: options.caCertificate ?? (options.caFile ? readCa(options.caFile) : undefined),
        }),
        this.observe,
      ),
      // Responses are parsed by zod, not trusted as typed.
      transitional: { silentJSONParsing: false },
      responseType: "json",
    });
  }

  /**
   * Every registered model with its latest version per stage, aliases and tags (all pages). Pages
   * are row offsets: a model created between two page requests can come back twice (merged here,
   * the most recently updated record kept) and one deleted meanwhile can push another out of both
   * pages, so a model missing here is not proven absent (see engine/deletion.ts).
   */
  async listRegisteredModels(): Promise<RegisteredModel[]> {
    return newestByName(await this.allPages((token) => this.registeredModelsPage(this.pageSize, token)));
  }

  /** One page of `count` registered models in MLflow's order, and the token of the next (none after the last). */
  async registeredModelsPage(count: number, pageToken?: string): Promise<Page<RegisteredModel>> {
    return this.page("registered-models/search", registeredModelsPageSchema, {}, (p) => p.registered_models, {
      count,
      pageToken,
    });
  }

  /**
   * The `count` most recently updated registered models, newest first (one page): what changed
   * since the last read is at the top.
   */
  async recentlyUpdatedModels(count: number): Promise<RegisteredModel[]> {
    const page = await this.get("registered-models/search", registeredModelsPageSchema, {
      order_by: "last_updated_timestamp DESC",
      max_results: count,
    });
    return page.registered_models;
  }

  /** One registered model, or undefined when MLflow answers that it does not exist. */
  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    return unlessMissing(
      this.get("registered-models/get", registeredModelResponseSchema, { name }).then(
        (response) => response.registered_model,
      ),
    );
  }

  /** Every version of one model (all pages). */
  async listModelVersions(name: string): Promise<ModelVersion[]> {
    const filter = `name='${name.replace(/'/g, "\\'")}'`;
    return this.allPages((pageToken) =>
      this.page("model-versions/search", modelVersionsPageSchema, { filter }, (p) => p.model_versions, {
        pageToken,
      }),
    );
  }

  /** One page of a paged listing: its items and the token of the next page (none after the last). */
  private async page<P extends { next_page_token?: string }, T>(
    endpoint: string,
    schema: z.ZodType<P>,
    params: Record<string, unknown>,
    items: (page: P) => T[],
    { count = this.pageSize, pageToken }: { count?: number; pageToken?: string },
  ): Promise<Page<T>> {
    const page = await this.get(endpoint, schema, { ...params, max_results: count, page_token: pageToken });
    return { items: items(page), nextPageToken: page.next_page_token || undefined };
  }

  /** Follows the pages' tokens to the end; any failed page fails the whole listing. */
  private async allPages<T>(pageAfter: (pageToken?: string) => Promise<Page<T>>): Promise<T[]> {
    const all: T[] = [];
    let pageToken: string | undefined;
    do {
      const page = await pageAfter(pageToken);
      all.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return all;
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return (await this.get("model-versions/get", modelVersionResponseSchema, { name, version }))
      .model_version;
  }

  /** Where a version's artifacts are stored (resolves runs:/ and models:/ sources). */
  async getDownloadUri(name: string, version: string): Promise<string> {
    return (await this.get("model-versions/get-download-uri", downloadUriSchema, { name, version }))
      .artifact_uri;
  }

  async listWebhooks(): Promise<Webhook[]> {
    return this.allPages((pageToken) =>
      this.page("webhooks", webhooksPageSchema, {}, (p) => p.webhooks, { pageToken }),
    );
  }

  /** Registers a webhook for registry events (entity and action as MLflow's enums spell them). */
  async createWebhook(webhook: WebhookSpec): Promise<Webhook> {
    return (await this.send("post", "webhooks", webhookResponseSchema, webhook)).webhook;
  }

  /** The webhook, or undefined when MLflow says it does not exist. */
  async getWebhook(id: string): Promise<Webhook | undefined> {
    return unlessMissing(
      this.send("get", "webhooks/get", webhookResponseSchema, {}, webhookPath(id)).then(
        (response) => response.webhook,
      ),
    );
  }

  /** Changes a webhook in place (its id and deliveries' history stay): URL, events, secret, name. */
  async updateWebhook(id: string, webhook: WebhookSpec): Promise<Webhook> {
    return (await this.send("patch", "webhooks/update", webhookResponseSchema, webhook, webhookPath(id)))
      .webhook;
  }

  /** Deletes a webhook; false when MLflow says it did not exist. */
  async deleteWebhook(id: string): Promise<boolean> {
    const deleted = unlessMissing(
      this.send("delete", "webhooks/delete", z.unknown(), {}, webhookPath(id)).then(() => true),
    );
    return (await deleted) ?? false;
  }

  /** Tags a version (the service's write-back of what it deployed). */
  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.send("post", "model-versions/set-tag", z.unknown(), { name, version, key, value });
  }

  private get<T>(endpoint: string, schema: z.ZodType<T>, params: Record<string, unknown>): Promise<T> {
    return this.send("get", endpoint, schema, params);
  }

  /**
   * One request validated by `schema`; transient failures are retried with backoff. `endpoint`
   * names it in errors and metrics; `path` is where it goes when the URL carries an id.
   */
  private async send<T>(
    method: "get" | "post" | "patch" | "delete",
    endpoint: string,
    schema: z.ZodType<T>,
    payload: Record<string, unknown>,
    path = endpoint,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.observe.request?.(endpoint);
        const response = await this.http.request({
          method,
          url: path,
          ...(method === "get" ? { params: payload } : { data: payload }),
        });
        const parsed = schema.safeParse(response.data);
        if (!parsed.success) throw new RegistryResponseError(endpoint, describeIssues(parsed.error));
        return parsed.data;
      } catch (error) {
        if (error instanceof RegistryError) throw error;
        const failure = describeFailure(endpoint, error);
        if (!failure.transient || attempt >= this.retries) throw failure.error;
        await sleep(this.backoffMs * 2 ** attempt);
      }
    }
  }
}

const KEEP_ALIVE = { keepAlive: true, timeout: 1_000, maxSockets: 16 };

/** Reports each connection the agent opens. */
function countingConnections<A extends HttpAgent>(agent: A, observe: { connection?: () => void }): A {
  const create = agent.createConnection.bind(agent);
  agent.createConnection = ((...args: Parameters<typeof create>) => {
    observe.connection?.();
    return create(...args);
  }) as typeof agent.createConnection;
  return agent;
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    throw new ConfigError([{ setting: "MLflow CA file", message: `cannot read ${file}` }]);
  }
}

/**
 * The request's value, or undefined when MLflow itself answers that the resource does not exist
 * (its error code: a 404 from anything else in between is an error like any other).
 */
async function unlessMissing<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof RegistryError && error.code === "RESOURCE_DOES_NOT_EXIST") return undefined;
    throw error;
  }
}

/** A webhook's own path: its id in the URL (MLflow 3.3+). */
const webhookPath = (id: string) => `webhooks/${encodeURIComponent(id)}`;

/** Turns an axios error into a RegistryError without request headers or credentials. */
function describeFailure(endpoint: string, error: unknown): { error: RegistryError; transient: boolean } {
  if (!(error instanceof AxiosError)) {
    return { error: new RegistryError(endpoint, String(error)), transient: false };
  }
  const status = error.response?.status;
  if (status === undefined) {
    // A certificate the client does not trust fails the same way on every attempt.
    if (error.code && UNTRUSTED_CERTIFICATE.has(error.code)) {
      const reason = `the server's TLS certificate is not trusted (${error.code}): give the CA that signed it (M2S_MLFLOW_CA_FILE or MLFLOW_TRACKING_SERVER_CERT_PATH; stack config mlflowCaCertificate)`;
      return { error: new RegistryAccessError(endpoint, reason), transient: false };
    }
    const reason =
      error.code === "ECONNABORTED" ? "timed out" : `network error ${error.code ?? error.message}`;
    return { error: new RegistryError(endpoint, reason), transient: true };
  }
  const data = error.response?.data as { error_code?: string; message?: string } | undefined;
  const detail = data?.error_code
    ? `${data.error_code}: ${data.message ?? ""}`
    : (error.response?.statusText ?? "");
  const hint =
    status === 403
      ? ` (${permissionHint(endpoint)})`
      : STATUS_HINTS[status]
        ? ` (${STATUS_HINTS[status]})`
        : "";
  const Refusal = status === 401 ? RegistryAccessError : RegistryError;
  return {
    error: new Refusal(endpoint, `HTTP ${status} ${detail}`.trim() + hint, status, data?.error_code),
    transient: status === 429 || status >= 500,
  };
}

/** Node's codes for a server certificate that does not verify. */
const UNTRUSTED_CERTIFICATE = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** What a refusal means for the user's settings. */
const STATUS_HINTS: Record<number, string> = {
  401: "MLflow refused the credentials: check the MLflow token or username and password (M2S_MLFLOW_TOKEN, M2S_MLFLOW_USERNAME, M2S_MLFLOW_PASSWORD; stack config mlflowUsername and the secrets mlflowToken, mlflowPassword)",
};

/** The MLflow permission a refused endpoint needs (MLflow's basic-auth app; README "MLflow permissions"). */
function permissionHint(endpoint: string): string {
  if (endpoint === "webhooks")
    return "MLflow lets only an admin list and create webhooks: an admin registers the webhook, and the service gets only M2S_WEBHOOK_SECRET (M2S_WEBHOOK_URL unset)";
  if (endpoint === "model-versions/set-tag")
    return "the MLflow user needs EDIT on the registered model for M2S_WRITE_BACK";
  return "the MLflow user needs READ on the registered model";
}
