// The continuous sync service on a cluster: ServiceAccount, least-privilege RBAC, a Secret for
// MLflow credentials, the Deployment (probes, non-root, read-only root filesystem; two replicas
// electing a leader on a Lease, with a PodDisruptionBudget) and a Service for /metrics and
// webhooks; and, by default, ServingGuardrails for the deployment namespace.
// Type token mlflow2seldon:index:SyncService.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TARGETS, type TargetName } from "../engine/serving-targets";
import { noWaitAnnotations } from "./no-wait";
import { SERVICE_RESOURCES } from "./service-resources";
import { ServingGuardrails } from "./serving-guardrails";

const PORT = 8080;

export interface SyncServiceArgs {
  /** Namespace the service runs in (created by the caller). */
  namespace: pulumi.Input<string>;
  /** Namespace of the serving objects the service manages. */
  deploymentNamespace: pulumi.Input<string>;
  /** The serving system the service writes to (its M2S_TARGET; default seldon-v1): its RBAC follows. */
  target?: TargetName;
  /** Container image of the sync service. */
  image: pulumi.Input<string>;
  /** M2S_* environment of the service (non-secret settings). */
  env: Record<string, pulumi.Input<string>>;
  /**
   * PEM of the CA that signed MLflow's certificate (when not a public one): stored in a ConfigMap,
   * mounted read-only, and given to the service as M2S_MLFLOW_CA_FILE.
   */
  mlflowCaCertificate?: pulumi.Input<string>;
  /** Secret settings (e.g. M2S_MLFLOW_TOKEN), stored in a Kubernetes Secret. */
  secretEnv?: Record<string, pulumi.Input<string> | undefined>;
  /** Grant access to SeldonDeployments in every namespace instead of deploymentNamespace only. */
  clusterWide?: boolean;
  /**
   * Container resources (default: 128Mi requested, 256Mi and half a CPU at most, enough for about
   * 5,000 registered models). The service's JavaScript heap may use half the memory limit: give
   * 20,000 models a limit of 1Gi.
   */
  resources?: k8s.types.input.core.v1.ResourceRequirements;
  /** Do not wait for the Deployment to become ready (clusters without nodes). */
  skipAwait?: boolean;
  /**
   * Replicas (default 2). More than one elect a leader on a Lease in `namespace`: one writes, the
   * others stay ready to take over (a node failure or a rollout does not stop deployments).
   */
  replicas?: number;
  /**
   * Install ServingGuardrails for deploymentNamespace (default true; seldon-v1 target): the API
   * server then refuses floating images in what the service writes, and warns about Production
   * without 2 replicas and limits.
   */
  guardrails?: boolean;
}

export class SyncService extends pulumi.ComponentResource {
  public readonly deploymentName: pulumi.Output<string>;
  public readonly metricsEndpoint: pulumi.Output<string>;
  public readonly serviceAccountName: pulumi.Output<string>;

  constructor(name: string, args: SyncServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mlflow2seldon:index:SyncService", name, {}, opts);
    const labels = { "app.kubernetes.io/name": "mlflow2seldon", "app.kubernetes.io/instance": name };
    const annotations = noWaitAnnotations(args.skipAwait ?? false);
    const child = { parent: this };

    const account = new k8s.core.v1.ServiceAccount(
      `${name}-sa`,
      { metadata: { name, namespace: args.namespace, labels, annotations } },
      child,
    );

    const target = TARGETS[args.target ?? "seldon-v1"];
    const rules: k8s.types.input.rbac.v1.PolicyRule[] = [
      {
        apiGroups: [target.group],
        resources: [target.plural],
        // Exactly what the service sends: get (who holds a name to create), list and watch,
        // server-side apply (a patch, and a create when the object is new), delete.
        verbs: ["get", "list", "watch", "create", "patch", "delete"],
      },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ];
    const subjects = [{ kind: "ServiceAccount", name: account.metadata.name, namespace: args.namespace }];
    if (args.clusterWide) {
      const role = new k8s.rbac.v1.ClusterRole(
        `${name}-role`,
        { metadata: { labels, annotations }, rules },
        child,
      );
      new k8s.rbac.v1.ClusterRoleBinding(
        `${name}-binding`,
        {
          metadata: { labels, annotations },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
          subjects,
        },
        child,
      );
    } else {
      const role = new k8s.rbac.v1.Role(
        `${name}-role`,
        { metadata: { name, namespace: args.deploymentNamespace, labels, annotations }, rules },
        child,
      );
      new k8s.rbac.v1.RoleBinding(
        `${name}-binding`,
        {
          metadata: { name, namespace: args.deploymentNamespace, labels, annotations },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
          subjects,
        },
        child,
      );
    }

    const secretEntries = Object.entries(args.secretEnv ?? {}).filter(
      (e): e is [string, pulumi.Input<string>] => e[1] !== undefined,
    );
    const secret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: `${name}-credentials`, namespace: args.namespace, labels, annotations },
        // An empty stringData is never read back, so it would show as a change on every run.
        stringData: secretEntries.length > 0 ? pulumi.secret(Object.fromEntries(secretEntries)) : undefined,
      },
      child,
    );

    // The CA as a file the service reads at start (its root filesystem is read-only).
    const caMount = "/etc/mlflow2seldon/mlflow-ca";
    const caConfigMap =
      args.mlflowCaCertificate === undefined
        ? undefined
        : new k8s.core.v1.ConfigMap(
            `${name}-mlflow-ca`,
            {
              metadata: { name: `${name}-mlflow-ca`, namespace: args.namespace, labels, annotations },
              data: { "ca.crt": args.mlflowCaCertificate },
            },
            child,
          );

    const probe = (path: string) => ({
      httpGet: { path, port: PORT },
      periodSeconds: 10,
      failureThreshold: 3,
    });
    const replicas = args.replicas ?? 2;
    if (replicas > 1) {
      const leaseRole = new k8s.rbac.v1.Role(
        `${name}-lease`,
        {
          metadata: { namespace: args.namespace, labels, annotations },
          rules: [
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
          ],
        },
        child,
      );
      new k8s.rbac.v1.RoleBinding(
        `${name}-lease`,
        {
          metadata: { namespace: args.namespace, labels, annotations },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: leaseRole.metadata.name },
          subjects,
        },
        child,
      );
      new k8s.policy.v1.PodDisruptionBudget(
        `${name}-pdb`,
        {
          metadata: { namespace: args.namespace, labels, annotations },
          spec: { minAvailable: 1, selector: { matchLabels: labels } },
        },
        child,
      );
    }
    const fromPod = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: { name, namespace: args.namespace, labels, annotations },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: account.metadata.name,
              volumes: caConfigMap
                ? [{ name: "mlflow-ca", configMap: { name: caConfigMap.metadata.name } }]
                : undefined,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 10001,
                runAsGroup: 10001,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: "sync",
                  image: args.image,
                  args: ["sync"],
                  env: [
                    ...Object.entries({
                      ...args.env,
                      M2S_HTTP_PORT: String(PORT),
                      ...(replicas > 1 ? { M2S_LEADER_ELECTION: "true" } : {}),
                      ...(caConfigMap ? { M2S_MLFLOW_CA_FILE: `${caMount}/ca.crt` } : {}),
                    }).map(([envName, value]) => ({ name: envName, value })),
                    // The leader's identity and the Lease's namespace.
                    { name: "POD_NAME", ...fromPod("metadata.name") },
                    { name: "POD_NAMESPACE", ...fromPod("metadata.namespace") },
                  ],
                  envFrom: [{ secretRef: { name: secret.metadata.name } }],
                  ports: [{ name: "http", containerPort: PORT }],
                  volumeMounts: caConfigMap
                    ? [{ name: "mlflow-ca", mountPath: caMount, readOnly: true }]
                    : undefined,
                  livenessProbe: probe("/healthz"),
                  readinessProbe: probe("/readyz"),
                  resources: args.resources ?? SERVICE_RESOURCES,
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                },
              ],
            },
          },
        },
      },
      child,
    );

    const service = new k8s.core.v1.Service(
      `${name}-metrics`,
      {
        metadata: {
          name: `${name}-metrics`,
          namespace: args.namespace,
          labels,
          annotations: { ...annotations, "prometheus.io/scrape": "true", "prometheus.io/port": String(PORT) },
        },
        spec: { selector: labels, ports: [{ name: "http", port: PORT, targetPort: "http" }] },
      },
      child,
    );

    // The guardrails judge SeldonDeployments (the pack's rules read their predictors).
    if ((args.guardrails ?? true) && target.name === "seldon-v1")
      new ServingGuardrails(
        `${name}-guardrails`,
        { deploymentNamespace: args.deploymentNamespace, skipAwait: args.skipAwait },
        child,
      );

    this.deploymentName = deployment.metadata.name;
    this.serviceAccountName = account.metadata.name;
    this.metricsEndpoint = pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc:${PORT}/metrics`;
    this.registerOutputs({
      deploymentName: this.deploymentName,
      serviceAccountName: this.serviceAccountName,
      metricsEndpoint: this.metricsEndpoint,
    });
  }
}
