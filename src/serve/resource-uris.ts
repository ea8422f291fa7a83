/**
 * Resource URIs as the aggregator shows them: `ensemble://<server>/<the
 * backend's URI, percent-encoded>`, so two backends' `file:///a` stay apart
 * and a read finds its way back. Templates keep their `{…}` expressions
 * unencoded so a client can still expand them; what it substitutes is
 * decoded with the rest.
 */
const SCHEME = 'ensemble://';

export function toAggregateUri(server: string, uri: string): string {
  return `${SCHEME}${server}/${encodeURIComponent(uri)}`;
}

export function toAggregateUriTemplate(server: string, template: string): string {
  const parts = template.split(/(\{[^{}]*\})/);
  return `${SCHEME}${server}/${parts.map((part) => (part.startsWith('{') && part.endsWith('}') ? part : encodeURIComponent(part))).join('')}`;
}

/** The backend and its URI, or undefined for a URI the aggregator did not make. */
export function fromAggregateUri(uri: string): { server: string; uri: string } | undefined {
  if (!uri.startsWith(SCHEME)) return undefined;
  const rest = uri.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  try {
    return { server: decodeURIComponent(rest.slice(0, slash)), uri: decodeURIComponent(rest.slice(slash + 1)) };
  } catch {
    return undefined;
  }
}
