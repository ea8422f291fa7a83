/**
 * The names a client sees: `<server><separator><name>` for tools and prompts.
 * Clients limit names (64 characters for OpenAI and Claude Code, which counts
 * its own `mcp__<server>__` prefix: `reservePrefix` leaves room for it) and
 * their characters (`[A-Za-z0-9_-]`). A name that does not fit is shortened
 * deterministically: the same server and name always give the same result,
 * a readable head and a hash of the original that keeps names apart.
 */
import { createHash } from 'node:crypto';
import { EnsembleError } from '../core/errors.js';

export interface NamingOptions {
  separator: string;
  maxToolNameLength: number;
  reservePrefix: number;
}

export const DEFAULT_NAMING: NamingOptions = { separator: '__', maxToolNameLength: 64, reservePrefix: 0 };

const SAFE_NAME = /^[A-Za-z0-9_-]+$/;
const HASH_LENGTH = 8;
/** A head this short would say nothing; below it the limit is a mistake. */
const MIN_LIMIT = 16;

/** Validates naming options (from code or a config file) and fills in defaults. */
export function toNamingOptions(options: { separator?: unknown; maxToolNameLength?: unknown; reservePrefix?: unknown }): NamingOptions {
  const naming = { ...DEFAULT_NAMING };
  if (options.separator !== undefined) {
    if (typeof options.separator !== 'string' || !SAFE_NAME.test(options.separator)) {
      throw new EnsembleError('USAGE', `separator must be letters, digits, "_" or "-" (got ${JSON.stringify(options.separator)})`, { field: 'separator' });
    }
    naming.separator = options.separator;
  }
  for (const key of ['maxToolNameLength', 'reservePrefix'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new EnsembleError('USAGE', `${key} must be a non-negative integer`, { field: key });
    naming[key] = value;
  }
  if (limitOf(naming) < MIN_LIMIT) {
    throw new EnsembleError('USAGE', `maxToolNameLength - reservePrefix is ${limitOf(naming)}: at least ${MIN_LIMIT} characters are needed for a readable name and its hash`, { field: 'maxToolNameLength' });
  }
  return naming;
}

/** The longest name Ensemble exposes. */
export function limitOf(naming: NamingOptions): number {
  return naming.maxToolNameLength - naming.reservePrefix;
}

/** `server__name`, unless it is too long or has characters clients refuse; then its shortened form. */
export function toExposedName(server: string, name: string, naming: NamingOptions): string {
  const plain = `${server}${naming.separator}${name}`;
  if (plain.length <= limitOf(naming) && SAFE_NAME.test(plain)) return plain;
  return toShortenedName(server, name, naming);
}

/** The shortened form: the name with unsafe characters as `_`, cut to fit, then `_` and 8 hex digits of sha256(server, name). */
export function toShortenedName(server: string, name: string, naming: NamingOptions): string {
  const plain = `${server}${naming.separator}${name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const hash = createHash('sha256').update(`${server}\u0000${name}`).digest('hex').slice(0, HASH_LENGTH);
  return `${plain.slice(0, limitOf(naming) - HASH_LENGTH - 1)}_${hash}`;
}

/**
 * Exposed names for a set of (server, name) pairs, collision-free: entries
 * are taken in a fixed order (server, then name) so which one keeps the plain
 * name does not depend on which backend answered first.
 */
export function assignExposedNames<T extends { server: string; name: string }>(entries: readonly T[], naming: NamingOptions, reserved: ReadonlySet<string> = new Set()): Map<string, T> {
  const sorted = [...entries].sort((a, b) => compare(a.server, b.server) || compare(a.name, b.name));
  const byName = new Map<string, T>();
  for (const entry of sorted) {
    let exposed = toExposedName(entry.server, entry.name, naming);
    if (byName.has(exposed) || reserved.has(exposed)) exposed = toShortenedName(entry.server, entry.name, naming);
    // Two originals with the same 32-bit hash and the same head: vanishingly rare, but never two tools under one name.
    if (byName.has(exposed) || reserved.has(exposed)) continue;
    byName.set(exposed, entry);
  }
  return byName;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
