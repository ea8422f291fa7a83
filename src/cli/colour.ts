/**
 * Colour for a person at a terminal, and never in a pipe or a file: escapes are on only when the
 * stream is a TTY, `NO_COLOR` (any non-empty value, https://no-color.org) turns them off, and
 * `FORCE_COLOR` (non-empty, not `0`) turns them on anywhere, as most CLIs agree.
 */
import { styleText } from 'node:util';

export interface Paint {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
}

type Style = Parameters<typeof styleText>[0];

export function isColourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function createPaint(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Paint {
  const enabled = isColourWanted(stream, env);
  const style = (format: Style) => (text: string) => (enabled ? styleText(format, text) : text);
  return { enabled, bold: style('bold'), dim: style('dim'), green: style('green'), red: style('red'), yellow: style('yellow') };
}
