// Test helpers that shape a real MLflow registry (the testbed's by default) through its REST API.
// The writes live here, not in the engine's client: the product only reads the registry.
import axios, { type AxiosInstance } from "axios";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { join } from "node:path";
import { MlflowClient, type MlflowClientOptions } from "../../engine/registry/mlflow-client";
import {
  modelVersionResponseSchema,
  modelVersionsPageSchema,
  registeredModelResponseSchema,
  type ModelVersion,
  type RegisteredModel,
} from "../../engine/registry/schemas";
import { testbedSetting as setting } from "../../testbed/setting";
import { repoRoot } from "./testbed-env";

/** MLflow's admin on the testbed's production-shaped server (3.17 on PostgreSQL, basic-auth, TLS). */
export function productionMlflowAdmin(): MlflowClientOptions & {
  username: string;
  password: string;
  caFile: string;
} {
  return {
    url: setting("M2S_TESTBED_MLFLOW_PROD_URI"),
    username: "admin",
    password: setting("M2S_TESTBED_MLFLOW_PROD_ADMIN_PASSWORD"),
    caFile: setting("M2S_TESTBED_MLFLOW_PROD_CA"),
  };
}

/**
 * The MLflow server a test talks to. By default the testbed's MLflow 3.6 (SQLite, no
 * authentication, plain HTTP); with M2S_TEST_MLFLOW=production the newest MLflow 3 on PostgreSQL
 * with its basic-auth app and TLS, where the tests write as its admin and the service reads as the
 * admin too (what a user with READ only may do is mlflow-production.test.ts's matter).
 */
export interface MlflowUnderTest {
  url: string;
  /** A user who may write: the tests' registrations, promotions and webhooks. */
  admin: MlflowClientOptions;
  /** The service's MLflow settings. */
  serviceSettings: Record<string, string>;
  /** Where the tests' version sources point (served under /mnt/mlflow/registry-tests either way). */
  sourceRoot: string;
  /** The engine settings that map sourceRoot, for tests that plan with the engine directly. */
  engineSettings: { artifactRoot?: string };
}

export const MLFLOW_UNDER_TEST = ["3.6", "production"] as const;

export function mlflowUnderTest(): MlflowUnderTest {
  const choice = process.env.M2S_TEST_MLFLOW ?? "3.6";
  if (choice === "production") {
    const admin = productionMlflowAdmin();
    return {
      url: admin.url,
      admin,
      serviceSettings: {
        M2S_MLFLOW_HOST: admin.url,
        M2S_MLFLOW_USERNAME: admin.username,
        M2S_MLFLOW_PASSWORD: admin.password,
        M2S_MLFLOW_CA_FILE: admin.caFile,
        // MLflow 3.17 takes an mlflow-artifacts:/ source only with the run that holds it.
        M2S_MLFLOW_ARTIFACT_ROOT: "s3://mlflow/artifacts-prod",
      },
      sourceRoot: "s3://mlflow/artifacts-prod",
      engineSettings: { artifactRoot: "s3://mlflow/artifacts-prod" },
    };
  }
  if (choice !== "3.6")
    throw new Error(`M2S_TEST_MLFLOW=${choice}: expected one of ${MLFLOW_UNDER_TEST.join(", ")}`);
  const url = setting("MLFLOW_TRACKING_URI");
  return {
    url,
    admin: { url },
    serviceSettings: { M2S_MLFLOW_HOST: url },
    sourceRoot: "mlflow-artifacts:",
    engineSettings: {},
  };
}

/** The MLflow under test as an HttpFaultProxy's upstream (its CA when it speaks TLS). */
export function mlflowUpstream(): { url: string; tls?: { ca: Buffer } } {
  const { url, admin } = mlflowUnderTest();
  return { url, tls: admin.caFile ? { ca: readFileSync(admin.caFile) } : undefined };
}

export const mlflowUrl = () => mlflowUnderTest().url;

/** The engine's read client plus the registry writes a person or a CI job would make. */
export class RegistryAdmin extends MlflowClient {
  private readonly rest: AxiosInstance;
  private readonly serverUrl: string;

  /** `server`: a URL, or the client's options (basic credentials and a CA are used for writes too). */
  constructor(server: string | MlflowClientOptions) {
    const options = typeof server === "string" ? { url: server } : server;
    super(options);
    this.serverUrl = options.url.replace(/\/+$/, "");
    // A fresh connection per write: tests pause (training a model, a cycle) longer than the
    // server keeps an idle connection, and Node's default agent would reuse the closed socket.
    this.rest = axios.create({
      baseURL: `${options.url.replace(/\/+$/, "")}/api/2.0/mlflow/`,
      timeout: 30_000,
      httpAgent: new Agent({ keepAlive: false }),
      httpsAgent: new HttpsAgent({
        keepAlive: false,
        ca: options.caFile ? readFileSync(options.caFile) : undefined,
      }),
      auth: options.username ? { username: options.username, password: options.password ?? "" } : undefined,
    });
  }

  private async call(
    method: "get" | "post" | "delete",
    endpoint: string,
    payload: unknown,
  ): Promise<unknown> {
    const response =
      method === "post"
        ? await this.rest.post(endpoint, payload)
        : await this.rest.request({ method, url: endpoint, [method === "get" ? "params" : "data"]: payload });
    return response.data;
  }

  async createRegisteredModel(name: string, tags: Record<string, string> = {}): Promise<RegisteredModel> {
    const body = { name, tags: Object.entries(tags).map(([key, value]) => ({ key, value })) };
    return registeredModelResponseSchema.parse(await this.call("post", "registered-models/create", body))
      .registered_model;
  }

  /** The registered model, or undefined when MLflow answers RESOURCE_DOES_NOT_EXIST. */
  async findRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    try {
      return registeredModelResponseSchema.parse(await this.call("get", "registered-models/get", { name }))
        .registered_model;
    } catch (error) {
      if (axios.isAxiosError(error) && error.response?.data?.error_code === "RESOURCE_DOES_NOT_EXIST")
        return undefined;
      throw error;
    }
  }

  async searchModelVersions(name: string): Promise<ModelVersion[]> {
    const filter = `name='${name.replace(/'/g, "\\'")}'`;
    return modelVersionsPageSchema.parse(await this.call("get", "model-versions/search", { filter }))
      .model_versions;
  }

  async createModelVersion(name: string, source: string, runId?: string): Promise<ModelVersion> {
    const body = { name, source, run_id: runId };
    return modelVersionResponseSchema.parse(await this.call("post", "model-versions/create", body))
      .model_version;
  }

  async transitionStage(
    name: string,
    version: string,
    stage: string,
    archiveExisting = false,
  ): Promise<ModelVersion> {
    const body = { name, version, stage, archive_existing_versions: archiveExisting };
    return modelVersionResponseSchema.parse(await this.call("post", "model-versions/transition-stage", body))
      .model_version;
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.call("post", "registered-models/alias", { name, alias, version });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.call("delete", "registered-models/alias", { name, alias });
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    await this.call("post", "registered-models/set-tag", { name, key, value });
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    await this.call("delete", "registered-models/delete-tag", { name, key });
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.call("post", "model-versions/set-tag", { name, version, key, value });
  }

  async deleteModelVersion(name: string, version: string): Promise<void> {
    await this.call("delete", "model-versions/delete", { name, version });
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.call("delete", "registered-models/delete", { name });
  }

  /**
   * Grants `username` a permission on one registered model (MLflow 3's basic-auth app; DENY
   * takes away what the server's default permission gives).
   */
  async grantModelPermission(
    username: string,
    model: string,
    permission: "READ" | "EDIT" | "MANAGE" | "DENY",
  ) {
    await this.rest.post(`${this.serverUrl}/api/3.0/mlflow/users/permissions/grant`, {
      username,
      resource_type: "registered_model",
      resource_id: model,
      permission,
    });
  }

  /** Removes the grant `grantModelPermission` made: the server's default permission applies again. */
  async revokeModelPermission(username: string, model: string) {
    await this.rest.post(`${this.serverUrl}/api/3.0/mlflow/users/permissions/revoke`, {
      username,
      resource_type: "registered_model",
      resource_id: model,
    });
  }

  /** Removes every webhook of this name (what a test registered through the service). */
  async deleteWebhooksNamed(name: string): Promise<void> {
    for (const hook of await this.listWebhooks())
      if (hook.name === name) await this.deleteWebhook(hook.webhook_id);
  }

  /** The webhooks with when each was created. */
  async listWebhookRecords(): Promise<{ webhook_id: string; name: string; creation_timestamp: number }[]> {
    const page = (await this.call("get", "webhooks", {})) as {
      webhooks?: { webhook_id: string; name: string; creation_timestamp?: number | string }[];
    };
    return (page.webhooks ?? []).map((w) => ({
      ...w,
      creation_timestamp: Number(w.creation_timestamp ?? 0),
    }));
  }
}

/** A writing client of `server` (a URL, or options with credentials), the MLflow under test by default. */
export const mlflow = (server: string | MlflowClientOptions = mlflowUnderTest().admin) =>
  new RegistryAdmin(server);

/** A registered-model name unique to this run, keeping the given (possibly awkward) stem. */
export const uniqueModelName = (stem: string) => `${stem} ${randomBytes(3).toString("hex")}`;

/** Registers `count` versions whose sources are served-artifact URIs. */
export async function registerModel(name: string, count: number, tags: Record<string, string> = {}) {
  const client = mlflow();
  await client.createRegisteredModel(name, tags);
  const versions = [];
  for (let i = 1; i <= count; i++) {
    versions.push(
      await client.createModelVersion(
        name,
        `${mlflowUnderTest().sourceRoot}/registry-tests/${encodeURIComponent(name)}/v${i}/model`,
      ),
    );
  }
  return versions;
}

/**
 * The testbed MLflow server's own access-log lines about one model's versions (`name=<model>`)
 * written while `action` ran: what a run asked about the model, as the server saw it. The
 * registry listing every run makes must show in the same lines (the positive control: the log
 * is written, in the format read here), or this throws.
 */
export function versionRequestsDuring(model: string, action: () => void): string[] {
  const log = join(repoRoot, ".testbed", "logs", "mlflow.log");
  const offset = statSync(log).size;
  action();
  const lines = readFileSync(log).subarray(offset).toString("utf8").split("\n");
  if (!lines.some((line) => line.includes("/api/2.0/mlflow/registered-models/search")))
    throw new Error(`MLflow's access log (${log}) shows no registry listing while the action ran`);
  const query = new URLSearchParams({ name: model }).toString();
  return lines.filter((line) => line.includes(`${query}&`) || line.includes(`${query} HTTP`));
}
