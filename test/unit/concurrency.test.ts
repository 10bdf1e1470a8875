import { getEventListeners } from "node:events";
import { mapLimited, pause } from "../../engine/concurrency";

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("keeps at most `limit` in flight and returns results in input order", async () => {
  let running = 0;
  let peak = 0;
  const results = await mapLimited([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
    running++;
    peak = Math.max(peak, running);
    for (let k = 0; k < n; k++) await tick();
    running--;
    return `${i}:${n}`;
  });
  expect(results).toEqual(["0:5", "1:1", "2:4", "3:2", "4:3", "5:0"]);
  expect(peak).toBe(2);
});

test("starts nothing new after a failure and throws it once the running work settled", async () => {
  const started: number[] = [];
  const settled: number[] = [];
  const run = mapLimited([0, 1, 2, 3, 4, 5], 2, async (n) => {
    started.push(n);
    await tick();
    if (n === 1) throw new Error("item 1 failed");
    await tick();
    settled.push(n);
  });
  await expect(run).rejects.toThrow("item 1 failed");
  expect(started).toEqual([0, 1]);
  expect(settled).toEqual([0]);
});

test("pause leaves no abort listener behind, however many times it runs", async () => {
  const stop = new AbortController();
  for (let i = 0; i < 50; i++) await pause(0, stop.signal);
  expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  const waiting = pause(60_000, stop.signal);
  stop.abort();
  await waiting;
  expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
});
