// The running service's read-only page at `/`, loaded in headless Chromium (Debian's package) as
// an operator opens it: one row per slot and object of the last cycle, the recent cycles with
// their failures, and no secret.
import { chromium, type Browser, type Page } from "playwright-core";
import { MODEL_TAGS } from "../../engine/plan/planner";
import { createForeignSeldonDeployment, freshNamespace } from "../support/cluster";
import { mlflow, mlflowUrl, registerModel } from "../support/mlflow";
import { syncFixture } from "../support/sync";
import { readTestbedEnv } from "../support/testbed-env";
import { serviceEnv, startService } from "../support/service";

const TOKEN = "page-token-never-shown";

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: readTestbedEnv().M2S_TESTBED_CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

/** The cells of a table on the page, row by row. */
async function cells(page: Page, table: string): Promise<string[][]> {
  const rows = await page.locator(`#${table} tbody tr`).all();
  return Promise.all(rows.map((row) => row.locator("td").allTextContents()));
}

test("the page shows each slot's state, the recent cycles with their failures, and no secret", async () => {
  const namespace = await freshNamespace("page");
  const fx = syncFixture(namespace, "page model");
  const [steady, invalid, taken] = ["steady", "invalid", "taken"].map((n) => `${fx.prefix} ${n}`);
  for (const name of [steady, invalid, taken]) {
    await registerModel(name, 2);
    await mlflow().transitionStage(name, "1", "Production");
  }
  await mlflow().setRegisteredModelTag(invalid, MODEL_TAGS.resources, "{not json");
  // A foreign object holds the name `taken` would get.
  const plan = await fx.service().runCycle({ dryRun: true });
  const takenName = plan.report!.changes.find((c) => c.model === taken)!.name;
  await createForeignSeldonDeployment(namespace, takenName);

  // Its first cycle fails (a conflict, an invalid tag): the page is read as it starts.
  const service = await startService(
    serviceEnv(namespace, fx.prefix, fx.owner, {
      M2S_MLFLOW_TOKEN: TOKEN,
      M2S_SYNC_INTERVAL_SECONDS: "1",
    }),
    { ready: "/healthz" },
  );
  const page = await browser.newPage();
  try {
    const url = `http://127.0.0.1:${service.port}/`;
    const rowsWhen = async (ready: (rows: string[][]) => boolean) => {
      let rows: string[][] = [];
      for (let i = 0; i < 150; i++) {
        const response = await page.goto(url).catch(() => null);
        if (response?.ok()) {
          rows = await cells(page, "slots");
          if (ready(rows)) return rows;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`the page never showed the expected rows; last: ${JSON.stringify(rows)}`);
    };
    const byModel = (rows: string[][]) => new Map(rows.map((r) => [r[0], r]));

    let rows = byModel(await rowsWhen((r) => r.length === 3));
    expect(await page.title()).toBe(`mlflow2seldon: ${namespace}`);
    // Model, Slot, Wanted, Served, Object, Serving system, State, Detail (no serving system acts here)
    expect(rows.get(steady)).toEqual([
      steady,
      "stage:Production",
      "1",
      "1",
      expect.any(String),
      "-",
      "in sync",
      "",
    ]);
    expect(rows.get(taken)?.slice(4, 7)).toEqual([takenName, "-", "conflict"]);
    expect(rows.get(invalid)?.[6]).toBe("invalid");
    expect(rows.get(invalid)?.[7]).toContain(MODEL_TAGS.resources);
    const cycles = await cells(page, "cycles");
    // Finished, Kind, Result, Duration, Changes, Failures
    expect(cycles[0].slice(1, 3)).toEqual(["full", "failed"]);
    expect(cycles[0][5]).toContain(`${takenName}: held by another owner`);
    expect(cycles[0][5]).toContain(MODEL_TAGS.resources);
    expect(await page.locator("#summary").textContent()).toBe("3 slots and objects, 2 not in sync.");

    // A promotion shows up as served once the next cycle applied it.
    await mlflow().transitionStage(steady, "2", "Production", true);
    rows = byModel(await rowsWhen((r) => r.some((row) => row[0] === steady && row[3] === "2")));
    expect(rows.get(steady)?.slice(2, 7)).toEqual(["2", "2", expect.any(String), "-", "in sync"]);

    const html = await page.content();
    for (const secret of [TOKEN, mlflowUrl(), process.env.KUBECONFIG ?? "kubeconfig"])
      expect(html).not.toContain(secret);
  } finally {
    await page.close();
    await service.stop();
  }
});
