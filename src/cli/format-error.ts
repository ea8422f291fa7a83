/**
 * How an error reads on the terminal: once, prefixed `ensemble:`, and when it points into a file,
 * as `file:line:column: message` — the form editors and terminals turn into a link.
 */
import type { ErrorInfo } from '../core/errors.js';

export function formatError(info: ErrorInfo): string {
  if (info.file === undefined || info.line === undefined) return `ensemble: ${info.message}`;
  const where = `${info.file}:${info.line}${info.column !== undefined ? `:${info.column}` : ''}`;
  const [first = '', ...rest] = info.message.split('\n');
  // The message names the file (and for YAML the line and column) itself: say it once, up front.
  const head = stripPrefix(stripPrefix(first, `${info.file}: `).replace(/^line \d+(, column \d+)?: /, ''), '');
  return [`ensemble: ${where}: ${head}`, ...rest.map((line) => `  ${stripPrefix(line, `${info.file}: `)}`)].join('\n');
}

function stripPrefix(text: string, prefix: string): string {
  return prefix !== '' && text.startsWith(prefix) ? text.slice(prefix.length) : text;
}
