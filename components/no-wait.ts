// Annotations for clusters where nothing reconciles workloads (no kubelet, no garbage collector,
// such as the local testbed): do not wait for readiness, and delete in the background so no
// object waits for a `foregroundDeletion` finalizer that nobody removes.
export function noWaitAnnotations(enabled: boolean): Record<string, string> | undefined {
  return enabled
    ? { "pulumi.com/skipAwait": "true", "pulumi.com/deletionPropagationPolicy": "background" }
    : undefined;
}
