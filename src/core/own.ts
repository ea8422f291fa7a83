/**
 * Own-property reads for records keyed by names that come from outside (a
 * workflow, a planner, a server): `record[name]` would find `constructor` or
 * `toString` on `Object.prototype` and treat a function as a server, a tool
 * mapping or a task result.
 */

/** The record's own value for a key, never an inherited one. */
export function getOwn<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
