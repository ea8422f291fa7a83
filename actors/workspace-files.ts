/**
 * File operations confined to a workspace folder: what the built-in `files`
 * fallback does. No XState here, only Node's file system.
 *
 * Confinement is strict. Every path is resolved to the real path it names
 * before anything is read or written, and the operation then works on that
 * real path, never on the string it was given:
 *
 * - the root is realpath'ed; a relative path resolves against it;
 * - a relative path whose `..` climbs above the root is refused, even if it
 *   comes back down (`../ws/x`);
 * - an absolute path is accepted only when it lies inside the root (as given
 *   or as realpath'ed), and the file system is not probed otherwise;
 * - every existing component is realpath'ed, so a symbolic link anywhere in
 *   the path (file or folder, dangling or not) that leads outside is refused;
 *   for a file that does not exist yet the nearest existing ancestor is
 *   realpath'ed, and a dangling link is followed to where it would write;
 * - a path holding NUL is refused.
 *
 * Refusals throw `EnsembleError('PATH_OUTSIDE_WORKSPACE')`; an operation that
 * fails (missing file, no match for an edit, a name too long) throws
 * `EnsembleError('TOOL_ERROR')`. Both carry `field: 'path'` (or the argument
 * at fault) and the Node error as `cause`.
 */
import { isUtf8 } from 'node:buffer';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { EnsembleError } from '../src/core/errors.js';

/** Opening the resolved path must not follow a link planted there since it was checked. */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/** Links followed while resolving one path before giving up, as the kernel does (ELOOP). */
const MAX_LINK_HOPS = 40;

/** Longest path shown whole in a message. */
const MAX_SHOWN_PATH = 160;

/**
 * The real path `path` names inside the workspace `root`, or a refusal.
 * The path need not exist (a write may create it).
 *
 * @example
 * await resolveInsideWorkspace('/tmp/ws', 'notes/a.md') // '/tmp/ws/notes/a.md'
 * await resolveInsideWorkspace('/tmp/ws', '../etc/passwd') // throws PATH_OUTSIDE_WORKSPACE
 */
export async function resolveInsideWorkspace(root: string, path: string): Promise<string> {
  if (path.includes('\0')) throw refuse(path, root, 'it contains a NUL character');
  const realRoot = await resolveRoot(root);
  let candidate: string;
  if (isAbsolute(path)) {
    candidate = resolve(path);
    // Outside lexically: refused without probing the file system there.
    if (!isInside(candidate, realRoot) && !isInside(candidate, resolve(root))) throw refuse(path, root, 'it is outside the workspace');
  } else {
    if (climbsAboveRoot(path)) throw refuse(path, root, 'its ".." leaves the workspace');
    candidate = resolve(realRoot, path);
  }
  const real = await resolveRealPath(candidate, path, 0);
  if (!isInside(real, realRoot)) {
    throw refuse(path, root, `it resolves to ${showPath(real)} through a symbolic link`);
  }
  return real;
}

export interface ReadWorkspaceFileOptions {
  /** First line to return, 1-based (Claude Code's Read `offset`). */
  offset?: number;
  /** How many lines to return from `offset` (Claude Code's `limit`, the filesystem server's `head`). */
  limit?: number;
  /** Return only the last this many lines (the filesystem server's `tail`). */
  tail?: number;
}

/**
 * The text of a file in the workspace, whole or a range of its lines.
 *
 * @example
 * await readWorkspaceFile(root, 'notes/a.md', { offset: 10, limit: 5 }) // lines 10–14
 */
export async function readWorkspaceFile(root: string, path: string, options: ReadWorkspaceFileOptions = {}): Promise<string> {
  const real = await resolveInsideWorkspace(root, path);
  const text = await readText(real, path);
  return selectLines(text, options);
}

export interface WrittenFile {
  /** The real path written. */
  path: string;
  /** Bytes written (UTF-8). */
  bytes: number;
}

/**
 * Writes `content` to a file in the workspace, replacing what was there and
 * creating the folders it needs (inside the workspace only).
 *
 * @example
 * await writeWorkspaceFile(root, 'out/report.md', '# Report\n') // { path: '/…/out/report.md', bytes: 9 }
 */
export async function writeWorkspaceFile(root: string, path: string, content: string): Promise<WrittenFile> {
  const real = await resolveInsideWorkspace(root, path);
  try {
    await mkdir(dirname(real), { recursive: true });
  } catch (error) {
    throw toFileError(error, path, 'create the folder for');
  }
  await writeText(real, path, content);
  return { path: real, bytes: Buffer.byteLength(content) };
}

/** One replacement: `old` must occur exactly once, or at least once with `replaceAll`. */
export interface FileEdit {
  old: string;
  new: string;
  replaceAll?: boolean;
}

export interface EditedFile extends WrittenFile {
  /** Occurrences replaced, over every edit. */
  replacements: number;
}

/**
 * Replaces text in a file of the workspace, like Claude Code's Edit: `old`
 * must be found exactly once (every occurrence is replaced with
 * `replaceAll`). Several edits apply in order, and the file is written only
 * when all of them succeed. `dryRun` checks them without writing.
 *
 * @example
 * await editWorkspaceFile(root, 'a.md', { old: 'draft', new: 'final' }) // { replacements: 1, … }
 */
export async function editWorkspaceFile(
  root: string,
  path: string,
  edits: FileEdit | readonly FileEdit[],
  options: { dryRun?: boolean } = {},
): Promise<EditedFile> {
  const list: readonly FileEdit[] = Array.isArray(edits) ? edits : [edits as FileEdit];
  if (list.length === 0) throw new EnsembleError('TOOL_ERROR', `no edits given for ${showPath(path)}`, { field: 'edits' });
  const real = await resolveInsideWorkspace(root, path);
  let text = await readText(real, path);
  let replacements = 0;
  for (const [index, edit] of list.entries()) {
    const where = list.length > 1 ? ` (edit ${index + 1} of ${list.length})` : '';
    const applied = applyEdit(text, edit, path, where);
    text = applied.text;
    replacements += applied.count;
  }
  if (!options.dryRun) await writeText(real, path, text);
  return { path: real, bytes: Buffer.byteLength(text), replacements };
}

export interface WorkspaceEntry {
  /** The name as text; bytes that are not valid UTF-8, and control characters, shown as `\xNN`. */
  name: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  /** `name` is not the name on disk byte for byte (see `name`). */
  escaped: boolean;
  /** The name on disk is valid UTF-8. */
  validUtf8: boolean;
}

/**
 * The entries of a folder in the workspace, sorted by name. Names that are
 * not valid UTF-8 are listed escaped rather than failing the listing.
 *
 * @example
 * await listWorkspaceDirectory(root, '.') // [{ name: 'notes', kind: 'directory', escaped: false, validUtf8: true }, …]
 */
export async function listWorkspaceDirectory(root: string, path: string): Promise<WorkspaceEntry[]> {
  const real = await resolveInsideWorkspace(root, path);
  let dirents;
  try {
    // Buffer names: a name that is not UTF-8 would otherwise be mangled beyond recognition.
    dirents = await readdir(real, { withFileTypes: true, encoding: 'buffer' });
  } catch (error) {
    throw toFileError(error, path, 'list');
  }
  dirents.sort((a, b) => Buffer.compare(a.name, b.name));
  return dirents.map((dirent) => {
    const validUtf8 = isUtf8(dirent.name);
    const name = toDisplayName(dirent.name);
    const kind = dirent.isDirectory() ? 'directory' : dirent.isFile() ? 'file' : dirent.isSymbolicLink() ? 'symlink' : 'other';
    return { name, kind, escaped: name !== dirent.name.toString('utf8') || !validUtf8, validUtf8 };
  });
}

// ─── Resolution ────────────────────────────────────────────────────────────

async function resolveRoot(root: string): Promise<string> {
  try {
    return await realpath(root);
  } catch (error) {
    throw new EnsembleError('TOOL_ERROR', `workspace ${showPath(root)} cannot be opened: ${(error as Error).message}`, { field: 'workspace', cause: error });
  }
}

/** True when a relative path's `..` climbs above where it starts, at any point. */
function climbsAboveRoot(path: string): boolean {
  let depth = 0;
  for (const part of path.split(sep === '\\' ? /[\\/]/ : '/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

/**
 * The real path of an absolute, normalized path that may not exist: the
 * nearest existing entry realpath'ed, plus the missing rest. A dangling link
 * is followed to the path it would create.
 */
async function resolveRealPath(candidate: string, given: string, hops: number): Promise<string> {
  const missing: string[] = [];
  let current = candidate;
  for (;;) {
    let isLink: boolean;
    try {
      isLink = (await lstat(current)).isSymbolicLink();
    } catch (error) {
      const code = errorCode(error);
      // Missing, or under a file (ENOTDIR): what exists is further up. The operation reports ENOTDIR itself.
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(current) !== current) {
        missing.unshift(basename(current));
        current = dirname(current);
        continue;
      }
      throw toFileError(error, given, 'open');
    }
    try {
      return join(await realpath(current), ...missing);
    } catch (error) {
      if (!isLink || errorCode(error) !== 'ENOENT') throw toFileError(error, given, 'open');
    }
    // A dangling link: where would it lead?
    if (hops >= MAX_LINK_HOPS) throw new EnsembleError('TOOL_ERROR', `path ${showPath(given)}: too many symbolic links`, { field: 'path' });
    let target: string;
    try {
      target = resolve(await realpath(dirname(current)), await readlink(current));
    } catch (error) {
      throw toFileError(error, given, 'open');
    }
    return join(await resolveRealPath(target, given, hops + 1), ...missing);
  }
}

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function refuse(path: string, root: string, why: string): EnsembleError {
  return new EnsembleError('PATH_OUTSIDE_WORKSPACE', `path ${showPath(path)} is refused: ${why} (workspace ${showPath(root)})`, { field: 'path' });
}

// ─── Reading, writing, editing ────────────────────────────────────────────

async function readText(real: string, given: string): Promise<string> {
  let handle;
  try {
    handle = await open(real, constants.O_RDONLY | NO_FOLLOW);
    return await handle.readFile('utf8');
  } catch (error) {
    throw toFileError(error, given, 'read');
  } finally {
    await handle?.close();
  }
}

async function writeText(real: string, given: string, content: string): Promise<void> {
  let handle;
  try {
    handle = await open(real, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | NO_FOLLOW, 0o666);
    await handle.writeFile(content, 'utf8');
  } catch (error) {
    throw toFileError(error, given, 'write');
  } finally {
    await handle?.close();
  }
}

function selectLines(text: string, options: ReadWorkspaceFileOptions): string {
  if (options.offset === undefined && options.limit === undefined && options.tail === undefined) return text;
  // Lines keep their own terminator, so joining them gives back the file's text exactly.
  const lines: string[] = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let selected = lines;
  if (options.offset !== undefined || options.limit !== undefined) {
    const start = Math.max(0, (options.offset ?? 1) - 1);
    selected = selected.slice(start, options.limit === undefined ? undefined : start + options.limit);
  }
  if (options.tail !== undefined) selected = options.tail === 0 ? [] : selected.slice(-options.tail);
  return selected.join('');
}

function applyEdit(text: string, edit: FileEdit, path: string, where: string): { text: string; count: number } {
  if (edit.old === '') throw new EnsembleError('TOOL_ERROR', `the text to replace in ${showPath(path)} is empty${where}`, { field: 'old' });
  const positions: number[] = [];
  for (let at = text.indexOf(edit.old); at !== -1; at = text.indexOf(edit.old, at + edit.old.length)) positions.push(at);
  if (positions.length === 0) {
    throw new EnsembleError('TOOL_ERROR', `the text to replace was not found in ${showPath(path)}${where}: ${JSON.stringify(clip(edit.old))}`, { field: 'old' });
  }
  if (positions.length > 1 && !edit.replaceAll) {
    throw new EnsembleError(
      'TOOL_ERROR',
      `the text to replace occurs ${positions.length} times in ${showPath(path)}${where}; give more context to match it once, or replace all: ${JSON.stringify(clip(edit.old))}`,
      { field: 'old' },
    );
  }
  // split/join: no `$&` patterns, unlike String.replace with a string.
  return { text: text.split(edit.old).join(edit.new), count: positions.length };
}

// ─── Names and messages ────────────────────────────────────────────────────

/** A name as text: valid UTF-8 sequences as they are, other bytes and C0 controls as `\xNN`. */
function toDisplayName(name: Buffer): string {
  let shown = '';
  let at = 0;
  while (at < name.length) {
    const lead = name[at]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    const sequence = length === 0 ? undefined : name.subarray(at, at + length);
    if (sequence && sequence.length === length && isUtf8(sequence) && !(length === 1 && (lead < 0x20 || lead === 0x7f))) {
      shown += sequence.toString('utf8');
      at += length;
    } else {
      shown += `\\x${lead.toString(16).padStart(2, '0')}`;
      at += 1;
    }
  }
  return shown;
}

/** A Node file-system error as an `EnsembleError` a person can act on. */
function toFileError(error: unknown, path: string, action: string): EnsembleError {
  if (error instanceof EnsembleError) return error;
  const shown = showPath(path);
  const code = errorCode(error);
  const messages: Record<string, string> = {
    ENOENT: `cannot ${action} ${shown}: no such file or folder`,
    EISDIR: `cannot ${action} ${shown}: it is a folder`,
    ENOTDIR: `cannot ${action} ${shown}: ${action === 'list' ? 'it is not a folder' : 'a part of the path is a file, not a folder'}`,
    EEXIST: `cannot ${action} ${shown}: a part of the path is a file, not a folder`,
    EACCES: `cannot ${action} ${shown}: permission denied`,
    EPERM: `cannot ${action} ${shown}: operation not permitted`,
    ENAMETOOLONG: `cannot ${action} ${shown}: the name is too long for the file system (${longestComponent(path)} bytes in one name, or ${Buffer.byteLength(path)} in the path)`,
    ELOOP: `cannot ${action} ${shown}: too many symbolic links, or a link where a file was expected`,
  };
  const message = (code && messages[code]) ?? `cannot ${action} ${shown}: ${(error as Error).message}`;
  return new EnsembleError('TOOL_ERROR', message, { field: 'path', cause: error });
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function longestComponent(path: string): number {
  return Math.max(0, ...path.split(/[\\/]/).map((part) => Buffer.byteLength(part)));
}

/** A path quoted (control characters escaped) and shortened when very long. */
function showPath(path: string): string {
  return path.length <= MAX_SHOWN_PATH ? JSON.stringify(path) : `${JSON.stringify(path.slice(0, MAX_SHOWN_PATH))}… (${path.length} characters)`;
}

function clip(text: string): string {
  return text.length <= 200 ? text : `${text.slice(0, 200)}…`;
}
