// What every test file leaves when it ends, whether its tests passed or not: no service it started
// still running, no kubeconfig file it wrote (they hold credentials).
import { removeKubeconfigFiles } from "./cluster";
import { stopServices } from "./service";

afterAll(async () => {
  await stopServices();
  removeKubeconfigFiles();
});
