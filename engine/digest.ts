// Digests of plain values, equal for equal values whatever their key order: what was applied to
// a serving object, what a stack's model deployment declared.
import { createHash } from "node:crypto";

/** SHA-256 of a value's canonical JSON (keys sorted), shortened: equal values, equal digests. */
export function digestOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 32);
}

/** JSON with object keys sorted, so equal objects hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    // Undefined members are left out, as JSON leaves them out of what is sent.
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
