/**
 * Colour for a person at a terminal, and never in a pipe or a file: escapes are on only when the
 * stream is a TTY, `NO_COLOR` (any non-empty value, https://no-color.org) turns them off, and
 * `FORCE_COLOR` (non-empty, not `0`) turns them on anywhere, as most CLIs agree; `FORCE_COLOR=0`
 * and `TERM=dumb` turn them off on a TTY too.
 */

export interface Paint {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
}

/** SGR open and close codes. Written here rather than with `util.styleText`: that one also checks
 * process.stdout (so stderr went plain whenever stdout was piped) and is missing before Node 20.12. */
const STYLES = { bold: [1, 22], dim: [2, 22], green: [32, 39], red: [31, 39], yellow: [33, 39] } as const;

export function isColourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  // `FORCE_COLOR=0` (or `false`) is a request for no colour, as Node itself reads it.
  if (force === '0' || force === 'false') return false;
  if (force !== undefined && force !== '') return true;
  // A terminal that says it cannot show escapes gets none.
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

export function createPaint(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Paint {
  const enabled = isColourWanted(stream, env);
  const style = (name: keyof typeof STYLES) => (text: string) => (enabled ? `\u001b[${STYLES[name][0]}m${text}\u001b[${STYLES[name][1]}m` : text);
  return { enabled, bold: style('bold'), dim: style('dim'), green: style('green'), red: style('red'), yellow: style('yellow') };
}
