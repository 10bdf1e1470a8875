// Kubernetes Events about the objects the engine writes (`kubectl describe seldondeployment X`
// shows them): each create, update (old -> new version and why), delete and refused write.
// Best effort: an Event that cannot be written is logged by the caller, never fails a cycle.
import type { KubeClient } from "../kube/client";
import type { PlannedChange } from "./reconcile";
import type { ServingTarget } from "../serving-targets";

const REASONS = { create: "Created", update: "Updated", delete: "Deleted" } as const;
const FAILURE_REASONS = { create: "CreateFailed", update: "UpdateFailed", delete: "DeleteFailed" } as const;

/** The Event for one change (or, with `failure`, for a write the API server refused). */
export function changeEvent(
  change: PlannedChange,
  target: ServingTarget,
  namespace: string,
  owner: string,
  failure?: string,
  now = new Date(),
) {
  const served = `${change.model} version ${change.version} (${change.slot})`;
  const message = failure
    ? `could not ${change.action} for ${served}: ${failure}`
    : change.action === "create"
      ? `serving ${served}`
      : change.action === "delete"
        ? `no longer served: ${served} left its serving slot or the registry`
        : change.previousVersion && change.previousVersion !== change.version
          ? `version ${change.previousVersion} -> ${change.version} of ${change.model} (${change.slot} moved)`
          : `re-applied ${served}: the live object differed from the registry's (settings, tags or a hand edit)`;
  const time = now.toISOString();
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${change.name}.`, namespace },
    involvedObject: {
      apiVersion: target.apiVersion,
      kind: target.kind,
      name: change.name,
      namespace,
      uid: change.uid,
    },
    reason: (failure ? FAILURE_REASONS : REASONS)[change.action],
    message: message.slice(0, 1024),
    type: failure ? "Warning" : "Normal",
    source: { component: "mlflow2seldon" },
    reportingComponent: "mlflow2seldon",
    reportingInstance: owner,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}

export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly owner: string,
    private readonly target: ServingTarget,
  ) {}

  async record(change: PlannedChange, namespace: string, failure?: string): Promise<void> {
    await this.client.request("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
      body: changeEvent(change, this.target, namespace, this.owner, failure),
    });
  }
}
