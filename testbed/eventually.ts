// Polling until a condition holds, for the tests, the benchmark and the testbed's own tools that
// wait on real processes and servers.

/** Polls `check` every `intervalMs` for up to `timeoutMs`; its first truthy value, else an error naming `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  for (let i = 0; i < timeoutMs / intervalMs; i++) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}
