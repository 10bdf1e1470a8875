// Bounded parallelism for independent requests: a cold cycle looks up thousands of versions and
// applies thousands of objects, and one request at a time leaves both servers mostly idle.

/** Requests the engine keeps in flight to one server. */
export const PARALLEL_REQUESTS = 8;

/**
 * `work` on every item with at most `limit` running, results in input order. After the first
 * failure no new item starts and the failure is thrown once the running ones have settled.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index], index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, lane));
  const rejected = lanes.find((lane): lane is PromiseRejectedResult => lane.status === "rejected");
  if (rejected) throw rejected.reason;
  return results;
}

/** Waits `ms`, or less when `signal` aborts; leaves no timer and no listener behind. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
