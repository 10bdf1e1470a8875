// Policies a platform team enforces on model deployments. Exported as plain policy objects so
// they can be unit-tested with validateResource/validateStack; pack.ts assembles the pack.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

export const MODEL_DEPLOYMENT_TYPE = "pulumi-nodejs:dynamic/mlflow2seldon:ModelDeployment";
const DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment";

/** A ModelDeployment's serving object: its manifest input is JSON text (the provider checks it). */
const manifestOf = (props: Record<string, any>): Record<string, any> =>
  typeof props.manifest === "string" ? JSON.parse(props.manifest) : {};

interface Container {
  name?: string;
  image?: string;
  resources?: { limits?: Record<string, string> };
}

/** Containers of a ModelDeployment's SeldonDeployment or of a Kubernetes Deployment. */
function containersOf(type: string, props: Record<string, any>): Container[] {
  if (type === MODEL_DEPLOYMENT_TYPE) {
    const predictors: any[] = manifestOf(props).spec?.predictors ?? [];
    return predictors.flatMap((p) => (p.componentSpecs ?? []).flatMap((c: any) => c.spec?.containers ?? []));
  }
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
    if (args.type !== MODEL_DEPLOYMENT_TYPE || args.props.slot !== "stage:Production") return;
    // Predictors with containers are a SeldonDeployment's; other targets size their pods themselves.
    const manifest = manifestOf(args.props);
    if (manifest.kind !== "SeldonDeployment") return;
    for (const predictor of manifest.spec?.predictors ?? []) {
      if ((predictor.replicas ?? 1) < 2) {
        reportViolation(
          `${args.props.model} serves Production with ${predictor.replicas ?? 1} replica(s); use at least 2`,
        );
      }
    }
    const containers = containersOf(args.type, args.props);
    const limited =
      containers.length > 0 &&
      containers.every((c) => c.resources?.limits?.cpu && c.resources?.limits?.memory);
    if (!limited) reportViolation(`${args.props.model} serves Production without CPU and memory limits`);
  },
};

export const seldonDeploymentsInDeploymentNamespace: StackValidationPolicy = {
  name: "seldon-deployments-in-deployment-namespace",
  description: "SeldonDeployments are created only in the stack's deployment namespace.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const namespaceResource = args.resources.find((r) => r.name === "deployment-namespace");
    const allowed = namespaceResource?.props.metadata?.name;
    for (const resource of args.resources.filter((r) => r.type === MODEL_DEPLOYMENT_TYPE)) {
      // A stack policy sees outputs, where a ModelDeployment records its object's namespace.
      const namespace = resource.props.namespace;
      if (allowed !== undefined && namespace !== allowed) {
        reportViolation(
          `SeldonDeployment ${resource.name} is in namespace "${namespace}", not the deployment namespace "${allowed}"`,
          resource.urn,
        );
      }
    }
  },
};

export const policies = [
  noFloatingImageTags,
  productionReplicasAndLimits,
  seldonDeploymentsInDeploymentNamespace,
];
