// Waiting helpers for tests and the benchmark that run real processes: a free loopback port for a
// service to listen on, and polling until a condition holds.
export { freePort } from "../../testbed/free-port";

/** Polls `check` every 100 ms for up to 20 s; its first truthy value, else an error naming `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  for (let i = 0; i < timeoutMs / 100; i++) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
