// Unit tests run on plain data; integration tests run against the testbed (real MLflow,
// kube-apiserver with the Seldon CRDs, Pulumi CLI), which the global setup brings up.
const esmPackages = [
  "@kubernetes/client-node",
  "openid-client",
  "jose",
  "oauth4webapi",
  "agent-base",
  "socks-proxy-agent",
];
const shared = {
  testEnvironment: "node",
  transform: {
    "^.+\\.[tj]s$": [
      "ts-jest",
      {
        tsconfig: {
          allowJs: true,
          rootDir: ".",
          module: "commonjs",
          moduleResolution: "node10",
          ignoreDeprecations: "6.0",
          isolatedModules: true,
        },
        diagnostics: false,
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join("|")})/)`],
};
const integration = {
  ...shared,
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  globalTeardown: "<rootDir>/test/support/global-teardown.ts",
  setupFilesAfterEnv: ["<rootDir>/test/support/after-each-file.ts"],
};
// The files whose subject is MLflow's answers (reads, pages, the delta poll's ordering, webhook
// deliveries, refusals) run a second time against the production-shaped server: the newest
// MLflow 3 on PostgreSQL with its basic-auth app and TLS (test/support/mlflow.ts).
const mlflowMatrix = [
  "sync-engine",
  "delta-sync",
  "webhooks",
  "receiver",
  "deletion-safety",
  "sync-service",
  "service-status",
];
module.exports = {
  projects: [
    { ...shared, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    {
      ...integration,
      displayName: "integration",
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      setupFiles: ["<rootDir>/test/support/load-testbed-env.ts"],
    },
    {
      ...integration,
      displayName: "integration, MLflow 3.17 on PostgreSQL with basic-auth and TLS",
      testMatch: mlflowMatrix.map((name) => `<rootDir>/test/integration/${name}.test.ts`),
      setupFiles: [
        "<rootDir>/test/support/load-testbed-env.ts",
        "<rootDir>/test/support/mlflow-production-under-test.ts",
      ],
    },
  ],
  // Integration suites share one cluster and one MLflow: run files one at a time.
  maxWorkers: 1,
  // Integration tests drive real servers and the Pulumi CLI: minutes, not milliseconds.
  testTimeout: 600000,
};
