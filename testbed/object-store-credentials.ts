// What a cluster's admin prepares before models are served from the testbed's object store: its
// credentials where the target's serving system looks for them. KServe: a Secret with its S3
// annotations, listed by the predictor's ServiceAccount (M2S_SERVICE_ACCOUNT / stack config
// serviceAccount). Seldon Core's rclone storage initializer: RCLONE_CONFIG_<remote>_* variables in
// the predictor's envSecretRefName (M2S_SELDON_CREDENTIALS_SECRET / stack config
// credentialsSecret), the remote named after the URI's scheme. Used by `make demo` and the tests.
import type { V1Secret, V1ServiceAccount } from "@kubernetes/client-node";
import { testbedSetting } from "./setting";

/** The objects that give `target`'s serving Pods the object store's credentials, and the names they go by. */
export function objectStoreCredentials(target: string, env: NodeJS.ProcessEnv = process.env) {
  const endpoint = new URL(testbedSetting("M2S_TESTBED_S3_ENDPOINT", env));
  const accessKey = testbedSetting("M2S_TESTBED_S3_ACCESS_KEY_ID", env);
  const secretKey = testbedSetting("M2S_TESTBED_S3_SECRET_ACCESS_KEY", env);
  if (target === "kserve") {
    const secret: V1Secret = {
      metadata: {
        name: "models-s3",
        annotations: {
          "serving.kserve.io/s3-endpoint": endpoint.host,
          "serving.kserve.io/s3-usehttps": endpoint.protocol === "https:" ? "1" : "0",
          "serving.kserve.io/s3-region": "us-east-1",
        },
      },
      stringData: { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey },
    };
    const serviceAccount: V1ServiceAccount = {
      metadata: { name: "model-reader" },
      secrets: [{ name: "models-s3" }],
    };
    return { secret, serviceAccount };
  }
  const secret: V1Secret = {
    metadata: { name: "models-rclone" },
    stringData: {
      RCLONE_CONFIG_S3_TYPE: "s3",
      RCLONE_CONFIG_S3_PROVIDER: "Other",
      RCLONE_CONFIG_S3_ENV_AUTH: "false",
      RCLONE_CONFIG_S3_ENDPOINT: endpoint.origin,
      RCLONE_CONFIG_S3_ACCESS_KEY_ID: accessKey,
      RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: secretKey,
    },
  };
  return { secret, serviceAccount: undefined };
}
