import { renderStatusPage } from "../../service/status-page";

test("the page escapes what the registry names", () => {
  const html = renderStatusPage({
    namespace: "models",
    owner: "default",
    webhook: { state: "off" },
    polling: true,
    rows: [{ model: "<script>alert(1)</script>", slot: "stage:Production", object: "x", state: "in sync" }],
    cycles: [
      {
        kind: "full",
        finishedAt: new Date(0),
        ok: false,
        dryRun: false,
        durationMs: 5,
        changes: 0,
        failures: ['a "b" & c'],
      },
    ],
  });
  expect(html).not.toContain("<script>");
  expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  expect(html).toContain("a &quot;b&quot; &amp; c");
});

test("before the first cycle the page says so", () => {
  expect(
    renderStatusPage({
      namespace: "models",
      owner: "default",
      webhook: { state: "off" },
      polling: true,
      cycles: [],
    }),
  ).toContain("No cycle has reached the cluster yet.");
});

test("a webhook MLflow refused is shown with MLflow's reason: changes then wait for polling", () => {
  const html = renderStatusPage({
    namespace: "models",
    owner: "default",
    webhook: {
      state: "not registered",
      reason:
        "MLflow webhooks: HTTP 400 INVALID_PARAMETER_VALUE: Webhook URL must not resolve to a non-public IP address",
    },
    polling: true,
    cycles: [],
  });
  expect(html).toContain(
    '<p id="webhook">MLflow webhook: not registered in MLflow (MLflow webhooks: HTTP 400 INVALID_PARAMETER_VALUE: Webhook URL must not resolve to a non-public IP address): alias and tag changes arrive by the rolling read of the registry, a page at a time, or the next full read</p>',
  );
});

test("with the delta poll off the page names full reads only: the rolling read runs beside the poll", () => {
  const page = (webhook: Parameters<typeof renderStatusPage>[0]["webhook"]) =>
    renderStatusPage({ namespace: "models", owner: "default", webhook, polling: false, cycles: [] });
  expect(page({ state: "off" })).toContain(
    '<p id="webhook">MLflow webhook: off: changes arrive by full reads (the delta poll is off)</p>',
  );
  expect(page({ state: "not registered", reason: "HTTP 403" })).toContain(
    '<p id="webhook">MLflow webhook: not registered in MLflow (HTTP 403): changes arrive by the next full read (the delta poll is off)</p>',
  );
});
