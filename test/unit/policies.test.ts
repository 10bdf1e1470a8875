import type { ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import {
  MODEL_DEPLOYMENT_GROUP_TYPE,
  floatingImage,
  noFloatingImageTags,
  productionReplicasAndLimits,
  seldonDeploymentsInDeploymentNamespace,
} from "../../policy/policies";

/** A group serving one slot, as a resource policy sees it: its inputs. */
const modelDeployment = (overrides: {
  image?: string;
  replicas?: number;
  limits?: Record<string, string>;
  namespace?: string;
  slot?: string;
}) => ({
  type: MODEL_DEPLOYMENT_GROUP_TYPE,
  name: "models-2a",
  urn: "urn:pulumi:dev::mlflow2seldon::x",
  props: {
    group: "models-2a",
    owner: "stack-dev",
    "iris-production-1234abcd": JSON.stringify({
      model: "iris",
      slot: overrides.slot ?? "stage:Production",
      version: "1",
      manifest: {
        kind: "SeldonDeployment",
        metadata: { namespace: overrides.namespace ?? "seldon" },
        spec: {
          predictors: [
            {
              replicas: overrides.replicas ?? 2,
              componentSpecs: [
                {
                  spec: {
                    containers: [
                      {
                        name: "model",
                        image: overrides.image ?? "registry.example.com/wrapper:1.0",
                        resources: { limits: overrides.limits ?? { cpu: "1", memory: "1Gi" } },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      },
    }),
  },
});

function violations(policy: { validateResource?: unknown }, args: object): string[] {
  const found: string[] = [];
  (policy.validateResource as (a: ResourceValidationArgs, r: (m: string) => void) => void)(
    args as ResourceValidationArgs,
    (m) => found.push(m),
  );
  return found;
}

test("floating image references", () => {
  expect(floatingImage("wrapper")).toBe(true);
  expect(floatingImage("registry:5000/wrapper")).toBe(true);
  expect(floatingImage("wrapper:latest")).toBe(true);
  expect(floatingImage("registry:5000/wrapper:1.2")).toBe(false);
  expect(floatingImage("wrapper@sha256:abc")).toBe(false);
});

test("no-floating-image-tags fires on :latest and untagged images, not on pinned ones", () => {
  expect(
    violations(noFloatingImageTags, modelDeployment({ image: "registry.example.com/wrapper:latest" })),
  ).toHaveLength(1);
  expect(violations(noFloatingImageTags, modelDeployment({ image: "wrapper" }))).toHaveLength(1);
  expect(violations(noFloatingImageTags, modelDeployment({}))).toEqual([]);
  const deployment = {
    type: "kubernetes:apps/v1:Deployment",
    props: {
      spec: { template: { spec: { containers: [{ name: "sync", image: "mlflow2seldon:latest" }] } } },
    },
  };
  expect(violations(noFloatingImageTags, deployment)).toHaveLength(1);
});

test("production-replicas-and-limits fires for Production with one replica or no limits, not for Staging", () => {
  expect(violations(productionReplicasAndLimits, modelDeployment({ replicas: 1 }))).toEqual([
    expect.stringContaining("1 replica"),
  ]);
  expect(violations(productionReplicasAndLimits, modelDeployment({ limits: {} }))).toEqual([
    expect.stringContaining("limits"),
  ]);
  expect(violations(productionReplicasAndLimits, modelDeployment({}))).toEqual([]);
  expect(
    violations(productionReplicasAndLimits, modelDeployment({ replicas: 1, slot: "stage:Staging" })),
  ).toEqual([]);
});

test("seldon-deployments-in-deployment-namespace fires for a SeldonDeployment outside the stack's namespace", () => {
  const run = (namespace: string) => {
    const found: string[] = [];
    const args = {
      resources: [
        {
          name: "deployment-namespace",
          type: "kubernetes:core/v1:Namespace",
          props: { metadata: { name: "seldon" } },
        },
        // What a stack policy sees of a group: its outputs.
        {
          type: MODEL_DEPLOYMENT_GROUP_TYPE,
          name: "models-2a",
          urn: "urn:x",
          props: { objects: { "iris-production-1234abcd": { kind: "SeldonDeployment", namespace } } },
        },
      ],
    };
    (
      seldonDeploymentsInDeploymentNamespace.validateStack as (
        a: StackValidationArgs,
        r: (m: string) => void,
      ) => void
    )(args as unknown as StackValidationArgs, (m) => found.push(m));
    return found;
  };
  expect(run("elsewhere")).toEqual([expect.stringContaining('"elsewhere"')]);
  expect(run("seldon")).toEqual([]);
});
