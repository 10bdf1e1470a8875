// One row per serving slot of the registry and per owned object: what is wanted, what is served,
// and whether they agree. `mlflow2seldon status` reads them from a dry-run cycle (nothing is
// written); the running service's page from its last cycle, after its writes.
import type { CycleReport, PlannedChange, SlotObject } from "../engine/apply/reconcile";

export type SlotState =
  | "in sync"
  | "drifted"
  | "missing"
  | "conflict"
  | "orphan"
  | "invalid"
  /** An object the registry may no longer want, kept: its deletion is unconfirmed or over the cap. */
  | "withheld";

export interface StatusRow {
  model: string;
  slot: string;
  /** Version the registry wants served (absent for an orphan). */
  wanted?: string;
  /** Version the live object serves (absent when there is none of ours). */
  served?: string;
  object: string;
  state: SlotState;
  detail?: string;
  /** The serving system's own view of the object (KServe's conditions, Seldon's state). */
  serving?: string;
}

export const byModelAndSlot = (a: StatusRow, b: StatusRow) =>
  a.model.localeCompare(b.model) || a.slot.localeCompare(b.slot);

const rowOf = (o: SlotObject) => ({
  model: o.model,
  slot: o.slot,
  object: o.name,
  ...(o.candidate ? { detail: `with ${o.candidate}` } : {}),
});
const inSync = (o: SlotObject): StatusRow => ({
  ...rowOf(o),
  wanted: o.version,
  served: o.version,
  state: "in sync",
  ...(o.serving ? { serving: o.serving } : {}),
});

/**
 * The rows of a cycle's report. A dry run's changes are what is out of sync; after an applied
 * cycle they are done (created or updated objects are in sync, deleted ones are gone) and only
 * its refused writes are still out of sync, with the API server's message.
 */
export function statusRows(report: CycleReport, options: { applied: boolean }): StatusRow[] {
  const rows = report.unchanged.map(inSync);
  if (options.applied)
    for (const c of report.changes.filter((c) => c.action !== "delete"))
      rows.push({ ...inSync(c), ...(c.warnings ? { detail: `warned: ${c.warnings.join("; ")}` } : {}) });
  const pending: (PlannedChange & { message?: string })[] = options.applied
    ? report.failures
    : report.changes;
  for (const c of pending) {
    const detail = c.message === undefined ? {} : { detail: c.message };
    if (c.action === "create") rows.push({ ...rowOf(c), wanted: c.version, state: "missing", ...detail });
    if (c.action === "update")
      rows.push({ ...rowOf(c), wanted: c.version, served: c.previousVersion, state: "drifted", ...detail });
    if (c.action === "delete") rows.push({ ...rowOf(c), served: c.version, state: "orphan", ...detail });
  }
  for (const w of report.withheld)
    rows.push({ ...rowOf(w), served: w.version, state: "withheld", detail: w.reason });
  for (const c of report.conflicts) rows.push({ ...rowOf(c), wanted: c.version, state: "conflict" });
  for (const p of report.problems)
    rows.push({ model: p.model, slot: p.slot, object: "", state: "invalid", detail: p.message });
  return rows.sort(byModelAndSlot);
}

export function statusTable(rows: StatusRow[]): string {
  const header = ["MODEL", "SLOT", "WANTED", "SERVED", "OBJECT", "SERVING", "STATE"];
  const cells = rows.map((r) => [
    r.model,
    r.slot,
    r.wanted ?? "-",
    r.served ?? "-",
    r.object || "-",
    r.serving ?? "-",
    r.detail ? `${r.state}: ${r.detail}` : r.state,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return (
    [header, ...cells]
      .map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join("  "))
      .join("\n") + "\n"
  );
}
