// The service image as the testbed builds it (`make image`) and how podman runs here (runc, cgroupfs,
// no default ulimits: testbed/containers.conf), for the tests and the benchmark that run it.
import { join } from "node:path";
import { repoRoot } from "../test/support/testbed-env";

/** The tag `make image` builds. */
export const SERVICE_IMAGE = "mlflow2seldon:0.1.0";

/** podman's environment: the testbed's containers.conf. */
export const podmanEnv = { CONTAINERS_CONF: join(repoRoot, "testbed", "containers.conf") };

/** A Kubernetes quantity of bytes ("256Mi", "1Gi", "500M") as a number (podman's --memory). */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (!match) throw new Error(`not a memory quantity: "${quantity}"`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ""] ?? 1;
  return Number(match[1]) * unit;
}

/** A Kubernetes CPU quantity ("500m", "2") in CPUs (podman's --cpus). */
export function quantityCpus(quantity: string): number {
  return quantity.endsWith("m") ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}
