// The programs that stand for the images the serving controllers name in their Pods, each as its
// Dockerfile runs it (entrypoint, CMD, ENV), installed on the testbed (.testbed/env).
import { dirname, join } from "node:path";
import type { ImageStandIn } from "./kubelet";
import { testbedSetting } from "./setting";

/** Stand-ins by image repository. */
export function imageStandIns(env: NodeJS.ProcessEnv = process.env): Record<string, ImageStandIn> {
  const mlserver: ImageStandIn = {
    entrypoint: [join(dirname(testbedSetting("M2S_TESTBED_MLSERVER_PYTHON", env)), "mlserver"), "start"],
    cmd: ["$(MLSERVER_MODELS_DIR)"],
    env: { MLSERVER_MODELS_DIR: "/mnt/models" },
    defaultPorts: { MLSERVER_HTTP_PORT: 8080, MLSERVER_GRPC_PORT: 8081, MLSERVER_METRICS_PORT: 8082 },
    standsFor: "MLServer 1.7.1 with mlserver-mlflow from the testbed's venv",
  };
  return {
    "kserve/storage-initializer": {
      entrypoint: [
        testbedSetting("M2S_TESTBED_STORAGE_PYTHON", env),
        testbedSetting("M2S_TESTBED_STORAGE_INITIALIZER", env),
      ],
      standsFor: "kserve-storage 0.20.0 running the image's initializer-entrypoint",
    },
    "seldonio/mlserver": mlserver,
    "seldonio/rclone-storage-initializer": {
      entrypoint: [testbedSetting("M2S_TESTBED_RCLONE", env), "copy"],
      env: {
        RCLONE_CONFIG_GS_TYPE: "google cloud storage",
        RCLONE_CONFIG_GS_ANONYMOUS: "true",
        RCLONE_VERBOSE: "1",
      },
      standsFor: "Debian's rclone (the image runs `rclone copy`)",
    },
  };
}

/** Containers no stand-in runs, by image repository, with the reason. */
export const IMAGES_NOT_RUN: Record<string, string> = {
  "seldonio/seldon-core-executor":
    "Seldon's service orchestrator routes to the model container; requests go to that container's ports as the predictor's model Service does",
};
