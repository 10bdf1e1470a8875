// Typed errors of the engine: each names where it happened and what was expected, and never
// carries credentials (URLs are logged without userinfo, headers are never copied).

/** MLflow could not be read completely: the cycle must not delete anything. */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  constructor(
    readonly endpoint: string,
    message: string,
    readonly status?: number,
    /** MLflow's error_code (RESOURCE_DOES_NOT_EXIST, …) when MLflow itself answered. */
    readonly code?: string,
  ) {
    super(`MLflow ${endpoint}: ${message}`);
  }
}

/**
 * MLflow cannot be reached with these settings at all: its TLS certificate is not trusted, or it
 * refused the credentials. Retrying cannot help; only a setting can.
 */
export class RegistryAccessError extends RegistryError {}

/** An MLflow response did not fit the schema of its endpoint. */
export class RegistryResponseError extends RegistryError {
  constructor(
    endpoint: string,
    readonly issues: string,
  ) {
    super(endpoint, `unexpected response: ${issues}`);
  }
}

/** A setting is missing or invalid; `setting` is the name the user sets (env var or config key). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: { setting: string; message: string }[]) {
    super(problems.map((p) => `${p.setting}: ${p.message}`).join("; "));
  }
}

/** The Kubernetes API refused an operation on one object. */
export class ClusterError extends Error {
  override readonly name = "ClusterError";
  constructor(
    readonly operation: string,
    readonly object: string,
    readonly status: number | undefined,
    readonly apiMessage: string,
  ) {
    super(`${operation} ${object} failed${status ? ` (HTTP ${status})` : ""}: ${apiMessage}`);
  }
}

/** A write was not sent: this process may not write now (a replica without the lease, or stopping). */
export class WriteNotAllowedError extends Error {
  override readonly name = "WriteNotAllowedError";
  constructor(object: string, why: string) {
    super(`${object} not written: ${why}`);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Slots of the registry that cannot be planned, each with its model and what to fix. */
export class PlanError extends Error {
  override readonly name = "PlanError";
  constructor(readonly problems: { model: string; slot: string; message: string }[]) {
    super(
      `cannot plan model deployments:\n${problems.map((p) => `  ${p.model} (${p.slot}): ${p.message}`).join("\n")}`,
    );
  }
}
