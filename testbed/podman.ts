// The service image as the testbed builds it (`make image`) and how podman runs here (runc, cgroupfs,
// no default ulimits: testbed/containers.conf), for the tests and the benchmark that run it.
import { join } from "node:path";
import { repoRoot } from "../test/support/testbed-env";

/** The tag `make image` builds. */
export const SERVICE_IMAGE = "mlflow2seldon:0.1.0";

/** podman's environment: the testbed's containers.conf. */
export const podmanEnv = { CONTAINERS_CONF: join(repoRoot, "testbed", "containers.conf") };
