// The Dockerfile read without building it (the image is built and run in test/integration/image.test.ts): multi-stage, pinned bases,
// a non-root user, the service's entry point, and only files that exist.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "..", "..");
const lines = readFileSync(join(root, "Dockerfile"), "utf8")
  .split("\n")
  .filter((line) => line.trim() && !line.startsWith("#"));
const stages = lines.map((line, index) => ({ line, index })).filter(({ line }) => line.startsWith("FROM "));
const finalStage = lines.slice(stages.at(-1)!.index);

test("is multi-stage with pinned base images", () => {
  expect(stages.length).toBeGreaterThanOrEqual(2);
  for (const { line } of stages) expect(line).toMatch(/^FROM \S+:(?!latest)\S+/);
});

test("runs the service as a numeric non-root user", () => {
  const user = finalStage.find((line) => line.startsWith("USER "));
  expect(user).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/);
  expect(finalStage).toContain(
    'ENTRYPOINT ["node", "--max-semi-space-size=1", "--max-old-space-size-percentage=50", "bin/mlflow2seldon.js"]',
  );
  expect(finalStage).toContain('CMD ["sync"]');
  expect(finalStage.some((line) => line.startsWith("RUN "))).toBe(false);
});

test("copies only files that exist and keeps local state out of the build context", () => {
  for (const line of lines.filter((l) => l.startsWith("COPY ") && !l.includes("--from"))) {
    const sources = line.split(/\s+/).slice(1, -1);
    for (const source of sources.filter((s) => s !== ".")) expect(existsSync(join(root, source))).toBe(true);
  }
  const built = ["bin/mlflow2seldon.js", "package.json"];
  for (const file of built) expect(existsSync(join(root, file))).toBe(true);
  const ignored = readFileSync(join(root, ".dockerignore"), "utf8").split("\n");
  expect(ignored).toEqual(expect.arrayContaining(["node_modules", ".testbed", "dist"]));
});
