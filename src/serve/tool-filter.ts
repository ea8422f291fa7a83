/**
 * Allow and deny lists of a server's tools. A name in a list is a tool's
 * name as its server lists it; `*` matches any run of characters. A tool is
 * exposed when it matches `allow` (or there is no `allow`) and no `deny`.
 */
export interface ToolFilter {
  allow?: string[];
  deny?: string[];
}

/** True when the filter lets the tool through. */
export function isToolAllowed(filter: ToolFilter | undefined, tool: string): boolean {
  if (!filter) return true;
  if (filter.allow && !filter.allow.some((pattern) => matchesPattern(pattern, tool))) return false;
  return !filter.deny?.some((pattern) => matchesPattern(pattern, tool));
}

/** A `*` glob match, linear in the name (no regular expression built from config text). */
function matchesPattern(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const parts = pattern.split('*');
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}
