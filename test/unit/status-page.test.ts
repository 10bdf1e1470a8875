import { renderStatusPage } from "../../service/status-page";

test("the page escapes what the registry names", () => {
  const html = renderStatusPage({
    namespace: "models",
    owner: "default",
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
  expect(renderStatusPage({ namespace: "models", owner: "default", cycles: [] })).toContain(
    "No cycle has reached the cluster yet.",
  );
});
