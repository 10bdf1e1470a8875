// A testbed setting (written by testbed/up.sh to .testbed/env) from the environment: tests, the
// demo's helpers and the stand-ins all fail the same way when the environment was not loaded.
export function testbedSetting(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set: the testbed environment (.testbed/env) was not loaded`);
  return value;
}
