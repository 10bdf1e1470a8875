import { renderStatusPage } from "../../service/status-page";

test("the page escapes what the registry names", () => {
  const html = renderStatusPage({
    namespace: "models",
    owner: "default",
    webhook: { state: "off" },
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
    renderStatusPage({ namespace: "models", owner: "default", webhook: { state: "off" }, cycles: [] }),
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
    cycles: [],
  });
  expect(html).toContain(
    '<p id="webhook">MLflow webhook: not registered in MLflow (MLflow webhooks: HTTP 400 INVALID_PARAMETER_VALUE: Webhook URL must not resolve to a non-public IP address): alias and tag changes arrive by the rolling read of the registry, a page at a time, or the next full read</p>',
  );
});
