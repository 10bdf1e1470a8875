// Component shapes under Pulumi's mocks: which children the SyncService creates and how.
import * as pulumi from "@pulumi/pulumi";
// The module only defines the class: the mocks below are in place before anything is created.
import { SyncService } from "../../components/sync-service";

const created: { type: string; name: string; inputs: any }[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      created.push({ type: args.type, name: args.name, inputs: args.inputs });
      return { id: `${args.name}-id`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  "mlflow2seldon",
  "unit",
  false,
);

const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

test("the sync service: least-privilege RBAC, non-root read-only Deployment with probes, metrics Service", async () => {
  const service = new SyncService("m2s", {
    namespace: "m2s",
    deploymentNamespace: "seldon",
    image: "registry.example.com/mlflow2seldon:0.1.0",
    env: { M2S_MLFLOW_HOST: "http://mlflow:5000" },
    secretEnv: { M2S_MLFLOW_TOKEN: pulumi.secret("t") },
  });
  expect(await output(service.metricsEndpoint)).toBe("http://m2s-metrics.m2s.svc:8080/metrics");
  expect(await output(service.deploymentName)).toBe("m2s");
  const byType = (type: string) => created.filter((r) => r.type === type);

  expect(byType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")).toEqual([]);
  const roles = byType("kubernetes:rbac.authorization.k8s.io/v1:Role");
  const role = roles.find((r) => r.inputs.metadata.namespace === "seldon")!;
  expect(role.inputs.rules[0]).toMatchObject({
    apiGroups: ["machinelearning.seldon.io"],
    resources: ["seldondeployments"],
  });
  // Two replicas elect a leader on a Lease in the service's namespace.
  const leaseRole = roles.find((r) => r.inputs.metadata.namespace === "m2s")!;
  expect(leaseRole.inputs.rules).toEqual([
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
  ]);
  expect(byType("kubernetes:policy/v1:PodDisruptionBudget")[0].inputs.spec.minAvailable).toBe(1);

  const [deployment] = byType("kubernetes:apps/v1:Deployment");
  expect(deployment.inputs.spec.replicas).toBe(2);
  const pod = deployment.inputs.spec.template.spec;
  expect(pod.securityContext.runAsNonRoot).toBe(true);
  const [container] = pod.containers;
  expect(container.securityContext).toMatchObject({
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
  });
  expect(container.livenessProbe.httpGet.path).toBe("/healthz");
  expect(container.readinessProbe.httpGet.path).toBe("/readyz");
  expect(container.env).toContainEqual({ name: "M2S_MLFLOW_HOST", value: "http://mlflow:5000" });
  expect(container.env).toContainEqual({ name: "M2S_LEADER_ELECTION", value: "true" });
  expect(container.env).toContainEqual({
    name: "POD_NAME",
    valueFrom: { fieldRef: { fieldPath: "metadata.name" } },
  });
  expect(JSON.stringify(container.env)).not.toContain("M2S_MLFLOW_TOKEN");
  expect(byType("kubernetes:core/v1:Service")).toHaveLength(1);
  expect(byType("kubernetes:core/v1:Secret")).toHaveLength(1);
});

test("the guardrails: images refused, Production warned and audited, bound to the deployment namespace", async () => {
  const bindings = created.filter(
    (r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
  );
  expect(bindings.map((b) => b.inputs.spec.validationActions)).toEqual([["Deny"], ["Warn", "Audit"]]);
  for (const binding of bindings)
    expect(binding.inputs.spec.matchResources.namespaceSelector.matchExpressions).toEqual([
      { key: "kubernetes.io/metadata.name", operator: "In", values: ["seldon"] },
    ]);
  const policies = created.filter(
    (r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
  );
  expect(policies).toHaveLength(2);
  for (const policy of policies)
    expect(policy.inputs.spec.matchConstraints.objectSelector).toEqual({
      matchLabels: { "app.kubernetes.io/managed-by": "mlflow2seldon" },
    });

  const before = created.length;
  const bare = new SyncService("bare", {
    namespace: "m2s",
    deploymentNamespace: "other",
    image: "registry.example.com/mlflow2seldon:0.1.0",
    env: {},
    guardrails: false,
  });
  await Promise.all([output(bare.deploymentName), output(bare.metricsEndpoint)]);
  expect(created.slice(before).some((r) => r.type === "kubernetes:apps/v1:Deployment")).toBe(true);
  expect(created.slice(before).some((r) => r.type.includes("ValidatingAdmissionPolicy"))).toBe(false);
});
