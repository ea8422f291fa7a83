/**
 * A JSON-safe copy of any value, cut to a size budget: payloads (tool results, arguments,
 * contexts) are untrusted and may be huge, so the copy costs O(budget), never O(payload).
 */

/** Marks where a value was cut. */
export const CUT = '…[cut]';

/**
 * Copies `value` as plain JSON data, spending at most about `maxChars` characters: long strings
 * are shortened, deep or long objects and arrays end with `CUT`. Functions become their name,
 * cycles `[cycle]`, and objects with `toJSON` (XState actor refs, errors) their JSON form.
 *
 * @example
 * toCappedValue({ text: 'x'.repeat(1e6) }, 100) // { text: 'xxx…[cut]' }
 */
export function toCappedValue(value: unknown, maxChars: number): unknown {
  const budget = { left: maxChars };
  return copy(value, budget, 0, new Set());
}

const MAX_DEPTH = 12;

function copy(value: unknown, budget: { left: number }, depth: number, seen: Set<object>): unknown {
  if (value === null || typeof value === 'boolean') {
    budget.left -= 5;
    return value;
  }
  if (typeof value === 'number') {
    budget.left -= 8;
    return Number.isFinite(value) ? value : String(value);
  }
  if (typeof value === 'string') {
    if (value.length <= budget.left) {
      budget.left -= value.length + 2;
      return value;
    }
    const kept = value.slice(0, Math.max(0, budget.left));
    budget.left = 0;
    return `${kept}${CUT}`;
  }
  if (typeof value === 'bigint') return copy(value.toString(), budget, depth, seen);
  if (typeof value === 'function') return copy(`[function ${value.name || 'anonymous'}]`, budget, depth, seen);
  if (typeof value !== 'object') return undefined;
  if (budget.left <= 0 || depth >= MAX_DEPTH) return CUT;
  if (seen.has(value)) return '[cycle]';
  if (value instanceof Error) return copy({ name: value.name, message: value.message }, budget, depth, seen);
  const toJSON: unknown = Reflect.get(value, 'toJSON');
  if (typeof toJSON === 'function') {
    const json: unknown = Reflect.apply(toJSON, value, []);
    if (json !== value) return copy(json, budget, depth, seen);
  }
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (const item of value) {
        if (budget.left <= 0) {
          out.push(CUT);
          break;
        }
        const copied = copy(item, budget, depth + 1, seen);
        out.push(copied === undefined ? null : copied);
      }
      budget.left -= 2;
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (budget.left <= 0) {
        out[CUT] = true;
        break;
      }
      const copied = copy(Reflect.get(value, key), budget, depth + 1, seen);
      if (copied === undefined) continue;
      budget.left -= key.length + 3;
      out[key] = copied;
    }
    budget.left -= 2;
    return out;
  } finally {
    seen.delete(value);
  }
}
