// The read-only page the service serves at `/`: the status rows of its last cycle and its recent
// cycles with their failures. Server-rendered HTML without scripts; it shows the namespace and
// owner but never a setting that could hold a credential (MLflow URL, token, kubeconfig).
import type { StatusRow } from "./status";

/** What one cycle did, as the page and nothing else needs it. */
export interface CycleSummary {
  /** A full read of the registry, a delta poll's models, or models named by a webhook or the watch. */
  kind: "full" | "delta" | "targeted";
  finishedAt: Date;
  ok: boolean;
  dryRun: boolean;
  durationMs: number;
  changes: number;
  /** Refused writes, unplannable slots, conflicts, or why the cycle stopped before writing. */
  failures: string[];
}

/** How registry events reach the service: what the page says about its MLflow webhook. */
export type WebhookState =
  | { state: "off" }
  | { state: "receiving"; registered: "by the service" | "elsewhere" }
  | { state: "not registered"; reason: string };

export interface StatusPageContent {
  namespace: string;
  owner: string;
  webhook: WebhookState;
  /** Whether the delta poll, and the rolling read beside it, run (M2S_DELTA_POLL_SECONDS > 0). */
  polling: boolean;
  /** Rows of the last cycle that reached the cluster; undefined before the first one. */
  rows?: StatusRow[];
  /** Newest first. */
  cycles: readonly CycleSummary[];
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const escape = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

function table(id: string, header: string[], rows: string[][]): string {
  const head = header.map((h) => `<th>${escape(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function webhookLine(webhook: WebhookState, polling: boolean): string {
  switch (webhook.state) {
    case "off":
      return polling
        ? "off: changes arrive by the delta poll, the rolling read of the registry (alias and tag changes) and full reads"
        : "off: changes arrive by full reads (the delta poll is off)";
    case "receiving":
      return `on: deliveries received at /webhooks/mlflow (webhook registered ${webhook.registered})`;
    case "not registered":
      return polling
        ? `not registered in MLflow (${webhook.reason}): alias and tag changes arrive by the rolling read of the registry, a page at a time, or the next full read`
        : `not registered in MLflow (${webhook.reason}): changes arrive by the next full read (the delta poll is off)`;
  }
}

export function renderStatusPage(content: StatusPageContent): string {
  const rows = content.rows;
  const outOfSync = rows?.filter((r) => r.state !== "in sync").length ?? 0;
  const summary =
    rows === undefined
      ? "No cycle has reached the cluster yet."
      : `${rows.length} slots and objects, ${outOfSync} not in sync.`;
  const slots =
    rows === undefined
      ? ""
      : table(
          "slots",
          ["Model", "Slot", "Wanted", "Served", "Object", "Serving system", "State", "Detail"],
          rows.map((r) => [
            r.model,
            r.slot,
            r.wanted ?? "-",
            r.served ?? "-",
            r.object || "-",
            r.serving ?? "-",
            r.state,
            r.detail ?? "",
          ]),
        );
  const webhook = webhookLine(content.webhook, content.polling);
  const cycles = table(
    "cycles",
    ["Finished", "Kind", "Result", "Duration", "Changes", "Failures"],
    content.cycles.map((c) => [
      c.finishedAt.toISOString(),
      c.kind,
      (c.ok ? "ok" : "failed") + (c.dryRun ? " (dry run)" : ""),
      `${c.durationMs} ms`,
      String(c.changes),
      c.failures.join("\n"),
    ]),
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mlflow2seldon: ${escape(content.namespace)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; }
table { border-collapse: collapse; margin-bottom: 2rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; white-space: pre-line; }
</style>
</head>
<body>
<h1>mlflow2seldon</h1>
<p>Namespace <code>${escape(content.namespace)}</code>, owner <code>${escape(content.owner)}</code>.</p>
<h2>Serving slots and objects</h2>
<p id="summary">${escape(summary)}</p>
<p id="webhook">MLflow webhook: ${escape(webhook)}</p>
${slots}
<h2>Recent cycles</h2>
${cycles}
</body>
</html>
`;
}
