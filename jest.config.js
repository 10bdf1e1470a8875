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
module.exports = {
  projects: [
    { ...shared, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    {
      ...shared,
      displayName: "integration",
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      globalSetup: "<rootDir>/test/support/global-setup.ts",
      globalTeardown: "<rootDir>/test/support/global-teardown.ts",
      setupFiles: ["<rootDir>/test/support/load-testbed-env.ts"],
      setupFilesAfterEnv: ["<rootDir>/test/support/after-each-file.ts"],
    },
  ],
  // Integration suites share one cluster and one MLflow: run files one at a time.
  maxWorkers: 1,
  // Integration tests drive real servers and the Pulumi CLI: minutes, not milliseconds.
  testTimeout: 600000,
};
