// When full reads run, as the service's own log tells it: after each "cycle finished" (with its
// duration) a "next full read scheduled" names the delay chosen. With delta polling, full reads
// are paced by their cost (20 times their duration: at most 1/20 of the time), never closer than
// the interval; while MLflow fails they back off exponentially up to M2S_MAX_BACKOFF_SECONDS and
// return to the interval once it answers; M2S_SYNC_JITTER spreads each delay around its base.
import { freshNamespace } from "../support/cluster";
import { FaultProxy } from "../support/fault-proxy";
import { HttpFaultProxy } from "../support/http-proxy";
import { mlflow, mlflowUrl, registerModel, uniqueModelName } from "../support/mlflow";
import { serviceEnv, startService, type RunningService } from "../support/service";
import { eventually } from "../support/wait";

interface ScheduledRead {
  ok: boolean;
  durationMs: number;
  /** When the full read finished and when the next was scheduled (ms since the epoch). */
  finishedAt: number;
  delayMs: number;
}

/** The full reads in the service's log, each with the delay chosen after it. */
function fullReads(service: RunningService): ScheduledRead[] {
  const reads: ScheduledRead[] = [];
  let finished: { ok: boolean; durationMs: number; time: string } | undefined;
  for (const line of service.logs) {
    const record = JSON.parse(line);
    if (record.msg === "cycle finished") finished = record;
    else if (record.msg === "next full read scheduled" && finished) {
      reads.push({
        ok: finished.ok,
        durationMs: finished.durationMs,
        finishedAt: Date.parse(finished.time),
        delayMs: record.delayMs,
      });
      finished = undefined;
    }
  }
  return reads;
}

let prefix: string;

beforeAll(async () => {
  prefix = uniqueModelName("schedule model");
  await registerModel(`${prefix} served`, 1);
  await mlflow().transitionStage(`${prefix} served`, "1", "Production");
});

/** A service of its own (a namespace of its own: each serves the model) with these settings. */
async function serviceWith(owner: string, settings: Record<string, string>, ready?: "/healthz") {
  const namespace = await freshNamespace(owner);
  return startService(serviceEnv(namespace, prefix, owner, { M2S_LOG_LEVEL: "debug", ...settings }), {
    ready,
  });
}

afterAll(async () => {
  await mlflow().deleteRegisteredModel(`${prefix} served`);
});

test("with delta polling, each full read waits 20 times its own duration (never less than the interval) before the next", async () => {
  // Every MLflow request takes 100 ms more: a full read costs enough for the pacing to show.
  const slow = new HttpFaultProxy({ url: mlflowUrl() });
  slow.decide = () => ({ kind: "pass", delayMs: 100 });
  try {
    const service = await serviceWith("paced", {
      M2S_MLFLOW_HOST: await slow.start(),
      M2S_SYNC_INTERVAL_SECONDS: "1",
      M2S_DELTA_POLL_SECONDS: "0.5",
      M2S_SYNC_JITTER: "0",
    });
    await eventually("three full reads", async () => fullReads(service).length >= 3, 120_000);
    const reads = fullReads(service);
    for (const read of reads) {
      expect(read.ok).toBe(true);
      expect(read.durationMs).toBeGreaterThanOrEqual(100);
      expect(read.delayMs).toBe(Math.max(1000, 20 * read.durationMs));
    }
    // Each next full read began no earlier than the delay after the one before ended (the log's
    // times are to the millisecond).
    for (let i = 1; i < reads.length; i++)
      expect(reads[i].finishedAt - reads[i].durationMs).toBeGreaterThanOrEqual(
        reads[i - 1].finishedAt + reads[i - 1].delayMs - 2,
      );
    // Polls ran in between (the reason for the pacing), and the gauge shows the latest delay.
    expect(await service.metric('mlflow2seldon_delta_polls_total{result="unchanged"}')).toBeGreaterThan(0);
    const latest = fullReads(service).at(-1)!;
    expect(await service.metric("mlflow2seldon_full_read_interval_seconds")).toBe(latest.delayMs / 1000);
  } finally {
    await slow.stop();
  }
});

test("while MLflow fails, full reads back off exponentially up to M2S_MAX_BACKOFF_SECONDS, then return to the interval; jitter spreads each delay", async () => {
  const failing = new FaultProxy(new URL(mlflowUrl()));
  const proxied = await failing.start();
  failing.setMode("malformed");
  try {
    // Without delta polling the base delay is the interval: 250 ms, doubled per failure up to 1 s.
    const backingOff = await serviceWith(
      "backoff",
      {
        M2S_MLFLOW_HOST: proxied,
        M2S_SYNC_INTERVAL_SECONDS: "0.25",
        M2S_DELTA_POLL_SECONDS: "0",
        M2S_MAX_BACKOFF_SECONDS: "1",
        M2S_SYNC_JITTER: "0",
      },
      "/healthz",
    );
    // MLflow answering, half the interval's jitter.
    const jittered = await serviceWith("jitter", {
      M2S_SYNC_INTERVAL_SECONDS: "0.5",
      M2S_DELTA_POLL_SECONDS: "0",
      M2S_SYNC_JITTER: "0.5",
    });
    await eventually("four failed full reads", async () => fullReads(backingOff).length >= 4, 60_000);
    failing.setMode("pass");
    await eventually(
      "two successful full reads after the outage",
      async () => fullReads(backingOff).filter((r) => r.ok).length >= 2,
      60_000,
    );
    const reads = fullReads(backingOff);
    let failures = 0;
    const expected = reads.map((read) => {
      failures = read.ok ? 0 : failures + 1;
      return failures === 0 ? 250 : Math.min(1000, 250 * 2 ** failures);
    });
    expect(reads.map((r) => r.delayMs)).toEqual(expected);
    expect(expected.slice(0, 4)).toEqual([500, 1000, 1000, 1000]);

    await eventually("eight jittered full reads", async () => fullReads(jittered).length >= 8, 60_000);
    const delays = fullReads(jittered).map((r) => r.delayMs);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(250);
      expect(delay).toBeLessThanOrEqual(750);
    }
    // Spread, not one value: eight equal draws of a uniform jitter do not happen.
    expect(new Set(delays).size).toBeGreaterThan(1);
  } finally {
    await failing.stop();
  }
});
