// Prometheus metrics of the sync loop, served on /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Phases of a cycle last from milliseconds to minutes (a cold cycle at 5,000 models: ~30 s). */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export function createMetrics() {
  const registry = new Registry();
  // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …) for stock dashboards.
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    cycles: new Counter({
      name: "mlflow2seldon_cycles_total",
      help: "Sync cycles run",
      labelNames: ["result"],
      registers: [registry],
    }),
    deltaPolls: new Counter({
      name: "mlflow2seldon_delta_polls_total",
      help: "Polls of the most recently updated models between full reads, by result (unchanged, changed, overflow: a full read follows, failure)",
      labelNames: ["result"],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: "mlflow2seldon_webhook_deliveries_total",
      help: "MLflow webhook deliveries received, by HTTP status answered (202 accepted, 401 unsigned, wrongly signed or stale, 409 repeated, 400 malformed)",
      labelNames: ["result"],
      registers: [registry],
    }),
    failures: new Counter({
      name: "mlflow2seldon_cycle_failures_total",
      help: "Cycles that failed, by stage",
      labelNames: ["stage"],
      registers: [registry],
    }),
    objects: new Counter({
      name: "mlflow2seldon_objects_total",
      help: "Serving objects handled, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    registryLatency: new Histogram({
      name: "mlflow2seldon_registry_read_seconds",
      help: "Time to read the MLflow registry",
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    applyLatency: new Histogram({
      name: "mlflow2seldon_apply_seconds",
      help: "Time to reconcile the cluster",
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    mlflowRequests: new Counter({
      name: "mlflow2seldon_mlflow_requests_total",
      help: "HTTP requests sent to MLflow (retries included), by endpoint",
      labelNames: ["endpoint"],
      registers: [registry],
    }),
    mlflowConnections: new Counter({
      name: "mlflow2seldon_mlflow_connections_total",
      help: "Connections opened to MLflow (kept alive within a cycle, closed after 1 s idle)",
      registers: [registry],
    }),
    kubeRequests: new Counter({
      name: "mlflow2seldon_kube_requests_total",
      help: "Kubernetes API requests for serving objects, by verb (apply and delete are writes)",
      labelNames: ["verb"],
      registers: [registry],
    }),
    cycleSeconds: new Histogram({
      name: "mlflow2seldon_cycle_seconds",
      help: "Wall time of a sync cycle",
      buckets: DURATION_BUCKETS,
      registers: [registry],
    }),
    cycleCpuSeconds: new Histogram({
      name: "mlflow2seldon_cycle_cpu_seconds",
      help: "CPU time (user + system) of the process during a sync cycle",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    driftDetected: new Counter({
      name: "mlflow2seldon_drift_detected_total",
      help: "Owned objects the watch saw changed or deleted by someone else (each queues its model's reconcile)",
      registers: [registry],
    }),
    leader: new Gauge({
      name: "mlflow2seldon_leader",
      help: "1 while this replica holds the lease and writes (leader election), else 0",
      registers: [registry],
    }),
    webhookRegistered: new Gauge({
      name: "mlflow2seldon_webhook_registered",
      help: "1 when the service's webhook is registered in MLflow (M2S_WEBHOOK_URL), 0 when registering failed and changes arrive by polling only",
      registers: [registry],
    }),
    fullReadInterval: new Gauge({
      name: "mlflow2seldon_full_read_interval_seconds",
      help: "Delay chosen before the next full read of the registry (interval, pacing by cost, or backoff)",
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: "mlflow2seldon_last_success_timestamp_seconds",
      help: "End of the last fully successful cycle",
      registers: [registry],
    }),
    deletionsWithheld: new Counter({
      name: "mlflow2seldon_deletions_withheld_total",
      help: "Deletions the plan wanted and the deletion rule kept, by cause (unconfirmed: the model's absence was not confirmed by a direct read; cap: more than one cycle may make)",
      labelNames: ["cause"] as const,
      registers: [registry],
    }),
    managed: new Gauge({
      name: "mlflow2seldon_managed_deployments",
      help: "Serving objects desired after the last cycle",
      registers: [registry],
    }),
  };
  return metrics;
}
export type Metrics = ReturnType<typeof createMetrics>;
