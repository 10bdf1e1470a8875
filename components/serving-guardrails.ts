// The policy pack's rules for model deployments, enforced by the API server itself, so they hold
// for what the sync service writes too (the pack only sees what Pulumi creates): two
// ValidatingAdmissionPolicies (CEL; admissionregistration.k8s.io/v1, GA since Kubernetes 1.30)
// for SeldonDeployments labelled app.kubernetes.io/managed-by=mlflow2seldon in one namespace.
// Pinned images are refused; Production without 2 replicas and CPU and memory limits is a
// warning to the writer and an audit annotation, as the pack's advisory rule.
// Type token mlflow2seldon:index:ServingGuardrails.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { noWaitAnnotations } from "./no-wait";

export interface ServingGuardrailsArgs {
  /** Namespace whose model deployments the policies judge. */
  deploymentNamespace: pulumi.Input<string>;
  /** Delete in the background (clusters without a garbage collector, such as the testbed). */
  skipAwait?: boolean;
}

const MATCH_SELDON_DEPLOYMENTS = {
  resourceRules: [
    {
      apiGroups: ["machinelearning.seldon.io"],
      apiVersions: ["*"],
      operations: ["CREATE", "UPDATE"],
      resources: ["seldondeployments"],
    },
  ],
  objectSelector: { matchLabels: { "app.kubernetes.io/managed-by": "mlflow2seldon" } },
};

/** True for every container of every predictor that satisfies `condition` (a CEL expression on `k`). */
const everyContainer = (condition: string) =>
  "object.spec.predictors.all(p, !has(p.componentSpecs) || p.componentSpecs.all(c, " +
  `!has(c.spec) || !has(c.spec.containers) || c.spec.containers.all(k, ${condition})))`;

export class ServingGuardrails extends pulumi.ComponentResource {
  /** Names of the ValidatingAdmissionPolicies (cluster-scoped, so generated per instance). */
  public readonly policyNames: pulumi.Output<string[]>;

  constructor(name: string, args: ServingGuardrailsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow2seldon:index:ServingGuardrails", name, {}, opts);
    const metadata = {
      labels: { "app.kubernetes.io/name": "mlflow2seldon", "app.kubernetes.io/instance": name },
      annotations: noWaitAnnotations(args.skipAwait ?? false),
    };
    const child = { parent: this };
    const inNamespace = {
      namespaceSelector: {
        matchExpressions: [
          { key: "kubernetes.io/metadata.name", operator: "In", values: [args.deploymentNamespace] },
        ],
      },
    };

    const pinned = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
      `${name}-pinned-images`,
      {
        metadata,
        spec: {
          failurePolicy: "Fail",
          matchConstraints: MATCH_SELDON_DEPLOYMENTS,
          validations: [
            {
              // A digest, or a tag in the last path segment other than latest.
              expression: everyContainer(
                "!has(k.image) || k.image.matches('@sha256:[0-9a-f]{64}$') || " +
                  "(k.image.matches(':[^/:@]+$') && !k.image.endsWith(':latest'))",
              ),
              messageExpression:
                "'no-floating-image-tags: ' + object.metadata.name + " +
                "' uses an image without a version tag or digest (or tagged latest); pin one'",
              reason: "Invalid",
            },
          ],
        },
      },
      child,
    );
    const production = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
      `${name}-production`,
      {
        metadata,
        spec: {
          failurePolicy: "Fail",
          matchConstraints: MATCH_SELDON_DEPLOYMENTS,
          matchConditions: [
            {
              name: "serves-production",
              expression:
                "has(object.metadata.labels) && object.metadata.labels.exists(k, " +
                "k == 'mlflow2seldon.io/slot' && object.metadata.labels[k] == 'production')",
            },
          ],
          validations: [
            {
              expression: "object.spec.predictors.all(p, (has(p.replicas) ? p.replicas : 1) >= 2)",
              messageExpression:
                "'production-replicas-and-limits: ' + object.metadata.name + " +
                "' serves Production with fewer than 2 replicas'",
            },
            {
              expression:
                "object.spec.predictors.all(p, has(p.componentSpecs)) && " +
                everyContainer(
                  "has(k.resources) && has(k.resources.limits) && " +
                    "'cpu' in k.resources.limits && 'memory' in k.resources.limits",
                ),
              messageExpression:
                "'production-replicas-and-limits: ' + object.metadata.name + " +
                "' serves Production without CPU and memory limits'",
            },
          ],
        },
      },
      child,
    );

    const bind = (
      suffix: string,
      policy: k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
      actions: string[],
    ) =>
      new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
        `${name}-${suffix}`,
        {
          metadata,
          spec: { policyName: policy.metadata.name, validationActions: actions, matchResources: inNamespace },
        },
        child,
      );
    bind("pinned-images", pinned, ["Deny"]);
    bind("production", production, ["Warn", "Audit"]);

    this.policyNames = pulumi.all([pinned.metadata.name, production.metadata.name]);
    this.registerOutputs({ policyNames: this.policyNames });
  }
}
