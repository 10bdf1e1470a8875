// Policies a platform team enforces on model deployments. Exported as plain policy objects so
// they can be unit-tested with validateResource/validateStack; pack.ts assembles the pack.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

export const MODEL_DEPLOYMENT_GROUP_TYPE = "pulumi-nodejs:dynamic/mlflow2seldon:ModelDeploymentGroup";
const DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment";

/** A slot of a ModelDeploymentGroup: its input is JSON text under the object's name (the provider checks it). */
interface ServedSlot {
  name: string;
  model: string;
  slot: string;
  manifest: Record<string, any>;
}

/** A group's inputs that are not slots. */
const GROUP_CONTROL_INPUTS = new Set(["group", "owner", "kubeContext", "kubeconfig", "__provider"]);

/** The slots of a ModelDeploymentGroup's inputs: every other input, JSON text. */
function slotsOf(props: Record<string, any>): ServedSlot[] {
  return Object.entries(props).flatMap(([name, value]) => {
    if (GROUP_CONTROL_INPUTS.has(name) || typeof value !== "string") return [];
    const slot = JSON.parse(value);
    return [{ name, model: slot.model, slot: slot.slot, manifest: slot.manifest ?? {} }];
  });
}

interface Container {
  name?: string;
  image?: string;
  resources?: { limits?: Record<string, string> };
}

/** Containers of a SeldonDeployment's predictors. */
const containersOfManifest = (manifest: Record<string, any>): Container[] =>
  (manifest.spec?.predictors ?? []).flatMap((p: any) =>
    (p.componentSpecs ?? []).flatMap((c: any) => c.spec?.containers ?? []),
  );

/** Containers of a ModelDeploymentGroup's SeldonDeployments or of a Kubernetes Deployment. */
function containersOf(type: string, props: Record<string, any>): Container[] {
  if (type === MODEL_DEPLOYMENT_GROUP_TYPE)
    return slotsOf(props).flatMap((s) => containersOfManifest(s.manifest));
  if (type === DEPLOYMENT_TYPE) return props.spec?.template?.spec?.containers ?? [];
  return [];
}

/** An image reference without a tag or digest, or tagged `latest`, is not reproducible. */
export function floatingImage(image: string): boolean {
  if (image.includes("@sha256:")) return false;
  const lastSegment = image.split("/").pop() ?? image;
  const tag = lastSegment.includes(":") ? lastSegment.split(":").pop() : undefined;
  return tag === undefined || tag === "latest";
}

export const noFloatingImageTags: ResourceValidationPolicy = {
  name: "no-floating-image-tags",
  description: "Model and service images are pinned: a tag other than `latest`, or a digest.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    for (const container of containersOf(args.type, args.props)) {
      if (container.image && floatingImage(container.image)) {
        reportViolation(
          `container ${container.name ?? "?"} uses the floating image "${container.image}"; pin a version tag or digest`,
        );
      }
    }
  },
};

export const productionReplicasAndLimits: ResourceValidationPolicy = {
  name: "production-replicas-and-limits",
  description: "Production model deployments run at least 2 replicas with CPU and memory limits.",
  enforcementLevel: "advisory",
  validateResource: (args, reportViolation) => {
    if (args.type !== MODEL_DEPLOYMENT_GROUP_TYPE) return;
    for (const { model, slot, manifest } of slotsOf(args.props)) {
      // Predictors with containers are a SeldonDeployment's; other targets size their pods themselves.
      if (slot !== "stage:Production" || manifest.kind !== "SeldonDeployment") continue;
      for (const predictor of manifest.spec?.predictors ?? []) {
        if ((predictor.replicas ?? 1) < 2) {
          reportViolation(
            `${model} serves Production with ${predictor.replicas ?? 1} replica(s); use at least 2`,
          );
        }
      }
      const containers = containersOfManifest(manifest);
      const limited =
        containers.length > 0 &&
        containers.every((c) => c.resources?.limits?.cpu && c.resources?.limits?.memory);
      if (!limited) reportViolation(`${model} serves Production without CPU and memory limits`);
    }
  },
};

export const seldonDeploymentsInDeploymentNamespace: StackValidationPolicy = {
  name: "seldon-deployments-in-deployment-namespace",
  description: "SeldonDeployments are created only in the stack's deployment namespace.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const namespaceResource = args.resources.find((r) => r.name === "deployment-namespace");
    const allowed = namespaceResource?.props.metadata?.name;
    for (const resource of args.resources.filter((r) => r.type === MODEL_DEPLOYMENT_GROUP_TYPE)) {
      // A stack policy sees outputs, where a group records each object's namespace.
      for (const [name, object] of Object.entries<{ namespace?: string }>(resource.props.objects ?? {})) {
        if (allowed !== undefined && object.namespace !== allowed) {
          reportViolation(
            `SeldonDeployment ${name} is in namespace "${object.namespace}", not the deployment namespace "${allowed}"`,
            resource.urn,
          );
        }
      }
    }
  },
};

export const policies = [
  noFloatingImageTags,
  productionReplicasAndLimits,
  seldonDeploymentsInDeploymentNamespace,
];
