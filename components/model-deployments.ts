// The registry snapshot as resources: the slots the engine planned, in ModelDeploymentGroups of
// a fixed number, so preview lists each group a change touches and names its slots.
// Type token mlflow2seldon:index:ModelDeployments.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { PlannedDeployment } from "../engine/plan/planner";
import { describeCandidate } from "../engine/registry/rollout";
import { ModelDeploymentGroup, type ClusterArgs } from "../provider/model-deployment-group";

/**
 * Groups per component. The local backend rewrites the whole state after every step of an up,
 * so a resource per slot costs the square of the slots (1,000 slots: 2,000 rewrites of up to
 * 3.5 MB); 64 groups keep an up to 128 rewrites at any registry size. Fixed, so a model's group
 * never changes as the registry grows: a slot moved between groups would be deleted by one and
 * applied by the other, in no guaranteed order.
 */
export const MODEL_DEPLOYMENT_GROUPS = 64;

/** The group of a model's slots: the component's name and two hex digits from the model's name. */
export function groupOf(component: string, model: string): string {
  const index = createHash("sha256").update(model).digest()[0] % MODEL_DEPLOYMENT_GROUPS;
  return `${component}-${index.toString(16).padStart(2, "0")}`;
}

export interface ModelDeploymentsArgs extends ClusterArgs {
  /** The deployments planned from the registry snapshot (`planModelDeployments`). */
  deployments: PlannedDeployment[];
  /** Owner label value of the stack's objects (the `owner` setting they were planned with). */
  owner: string;
}

export class ModelDeployments extends pulumi.ComponentResource {
  /** The serving objects, as namespace/name. */
  public readonly names: pulumi.Output<string[]>;

  constructor(name: string, args: ModelDeploymentsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow2seldon:index:ModelDeployments", name, {}, opts);
    // The object's name is stable per (model, slot), so a promotion is an update of the same slot.
    const groups = new Map<string, Record<string, string>>();
    for (const { model, slot, version, candidate, object } of args.deployments) {
      const group = groupOf(name, model);
      const slots = groups.get(group) ?? {};
      slots[object.metadata.name] = JSON.stringify({
        model,
        slot,
        version,
        candidate: candidate && describeCandidate(candidate),
        manifest: object,
      });
      groups.set(group, slots);
    }
    for (const [group, slots] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      new ModelDeploymentGroup(
        group,
        { owner: args.owner, kubeContext: args.kubeContext, kubeconfig: args.kubeconfig, slots },
        { parent: this },
      );
    }
    this.names = pulumi.output(
      args.deployments.map(({ object }) => `${object.metadata.namespace}/${object.metadata.name}`),
    );
    this.registerOutputs({ names: this.names, count: args.deployments.length });
  }
}
