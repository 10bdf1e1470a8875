// The sync service container's default requests and limits, apart from the component so the
// benchmark runs the image under the same limits. Measured in bench/RESULTS.md ("Memory in the
// container"): ~70 MiB idle, under 200 MiB peak at 5,000 models. The image's V8 heap ceiling is
// half the memory limit.
export const SERVICE_RESOURCES = {
  requests: { cpu: "50m", memory: "128Mi" },
  limits: { cpu: "500m", memory: "256Mi" },
} as const;
