import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describeExecFailure } from "../../engine/kube/client";

const SECRET = "s3cr3t-value-0f-the-client";

/** The failure a real plugin process gives: a script that echoes its arguments to stderr and fails. */
async function failureOf(args: string[], script: string) {
  const dir = mkdtempSync(join(tmpdir(), "exec-plugin-"));
  try {
    const plugin = join(dir, "kubelogin");
    writeFileSync(plugin, `#!/bin/sh\n${script}\n`, { mode: 0o700 });
    const exec = { apiVersion: "client.authentication.k8s.io/v1", command: plugin, args };
    const error = await promisify(execFile)(plugin, args).then(
      () => undefined,
      (e: unknown) => e,
    );
    return describeExecFailure(exec, error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a failing plugin is named with its exit code; its arguments and secrets never appear", async () => {
  const message = await failureOf(
    ["get-token", `--oidc-client-secret=${SECRET}`, "--password", SECRET],
    'echo "oidc login failed for $* (Authorization: Bearer abc.def.ghi, token=xyz123)" >&2; exit 3',
  );
  expect(message).toMatch(/^exec credential plugin kubelogin exited with code 3: oidc login failed/);
  expect(message).not.toContain(SECRET);
  expect(message).not.toContain("abc.def.ghi");
  expect(message).not.toContain("xyz123");
  expect(message).toContain("<redacted>");
});

test("a plugin that cannot start is named without its arguments", async () => {
  const exec = { apiVersion: "v1", command: "/no/such/plugin", args: [`--client-secret=${SECRET}`] };
  const error = await promisify(execFile)(exec.command, exec.args).catch((e: unknown) => e);
  const message = describeExecFailure(exec, error);
  expect(message).toBe("exec credential plugin plugin could not run (ENOENT)");
});
