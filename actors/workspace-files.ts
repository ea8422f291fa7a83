/**
 * File operations confined to a workspace folder: what the built-in `files`
 * fallback does. No XState here, only Node's file system.
 *
 * Confinement is strict, and holds while the workspace changes under us:
 * every operation opens its path component by component from a handle on the
 * root (`openConfined`, in `confined-open.ts`), never by name, so a folder
 * swapped for a symbolic link between a check and a use cannot lead out.
 *
 * - a relative path resolves against the root; one whose `..` climbs above it
 *   is refused, even if it comes back down (`../ws/x`);
 * - an absolute path is accepted only when it lies inside the root (as given
 *   or as realpath'ed), and the file system is not probed otherwise;
 * - a symbolic link (file or folder, dangling or not) is followed only while
 *   it stays inside; a dangling one inside is written where it points;
 * - only regular files with a single link are read or written: a FIFO, a
 *   socket or a device is refused at once (it is opened `O_NONBLOCK` and
 *   checked through its handle), and so is a hard link, which may be a file
 *   outside under a second name;
 * - a write goes to a new file (`O_CREAT | O_EXCL | O_NOFOLLOW`) in the
 *   folder held open, renamed over the target: it never writes through a link;
 * - reads stop at `maxReadBytes`, listings at `maxListEntries`;
 * - a path holding NUL is refused.
 *
 * Refusals throw `EnsembleError('PATH_OUTSIDE_WORKSPACE')`; an operation that
 * fails (missing file, no match for an edit, a name too long, a limit) throws
 * `EnsembleError('TOOL_ERROR')`. Both carry `field: 'path'` (or the argument
 * at fault) and the Node error as `cause`, and name the path as it was given:
 * never where a link led. Every operation takes an `AbortSignal` and stops at
 * its next step once it is aborted (a write is never committed after it).
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, opendir, rename, unlink } from 'node:fs/promises';
import { EnsembleError } from '../src/core/errors.js';
import { inFolder, openConfined, showPath, toFileError } from './confined-open.js';

/** Default for `maxReadBytes`: larger than any text a tool should hand a model at once. */
export const DEFAULT_MAX_READ_BYTES = 8 * 1024 * 1024;

/** Default for `maxListEntries`. */
export const DEFAULT_MAX_LIST_ENTRIES = 10_000;

/** Bytes read per step: a read checks its signal and its cap between steps. */
const READ_CHUNK_BYTES = 256 * 1024;

const TEMP_FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Limits and cancellation every operation takes. */
export interface WorkspaceFileOptions {
  /** Longest file read (or edited), in bytes. Default `DEFAULT_MAX_READ_BYTES`. */
  maxReadBytes?: number;
  /** Most entries a listing returns. Default `DEFAULT_MAX_LIST_ENTRIES`. */
  maxListEntries?: number;
  /** Stops the operation at its next step. */
  signal?: AbortSignal;
}

export interface ReadWorkspaceFileOptions extends WorkspaceFileOptions {
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
  const { text } = await readText(root, path, options);
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
export async function writeWorkspaceFile(root: string, path: string, content: string, options: WorkspaceFileOptions = {}): Promise<WrittenFile> {
  return writeText(root, path, content, options);
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
  options: WorkspaceFileOptions & { dryRun?: boolean } = {},
): Promise<EditedFile> {
  const list: readonly FileEdit[] = Array.isArray(edits) ? edits : [edits as FileEdit];
  if (list.length === 0) throw new EnsembleError('TOOL_ERROR', `no edits given for ${showPath(path)}`, { field: 'edits' });
  const read = await readText(root, path, options);
  let text = read.text;
  let replacements = 0;
  for (const [index, edit] of list.entries()) {
    const where = list.length > 1 ? ` (edit ${index + 1} of ${list.length})` : '';
    const applied = applyEdit(text, edit, path, where);
    text = applied.text;
    replacements += applied.count;
  }
  if (options.dryRun) return { path: read.path, bytes: Buffer.byteLength(text), replacements };
  const written = await writeText(root, path, text, options);
  return { ...written, replacements };
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
 * not valid UTF-8 are listed escaped rather than failing the listing. A
 * folder with more than `maxListEntries` entries is an error (read no further).
 *
 * @example
 * await listWorkspaceDirectory(root, '.') // [{ name: 'notes', kind: 'directory', escaped: false, validUtf8: true }, …]
 */
export async function listWorkspaceDirectory(root: string, path: string, options: WorkspaceFileOptions = {}): Promise<WorkspaceEntry[]> {
  const maxEntries = options.maxListEntries ?? DEFAULT_MAX_LIST_ENTRIES;
  const entry = await openConfined(root, path, 'directory', options);
  const listed: { name: Buffer; kind: WorkspaceEntry['kind'] }[] = [];
  try {
    // latin1 maps each byte of a name to one character and back: the names on disk, byte for byte.
    const dir = await opendir(inFolder(entry.folder), { encoding: 'latin1' });
    try {
      for (let dirent = await dir.read(); dirent !== null; dirent = await dir.read()) {
        options.signal?.throwIfAborted();
        if (listed.length === maxEntries) {
          throw new EnsembleError('TOOL_ERROR', `cannot list ${showPath(path)}: it holds more than ${maxEntries} entries (the limit, maxListEntries); list a folder inside it`, { field: 'path' });
        }
        const kind = dirent.isDirectory() ? 'directory' : dirent.isFile() ? 'file' : dirent.isSymbolicLink() ? 'symlink' : 'other';
        listed.push({ name: Buffer.from(dirent.name, 'latin1'), kind });
      }
    } finally {
      await dir.close().catch(() => undefined);
    }
  } catch (error) {
    throw toOperationError(error, options.signal, path, 'list');
  } finally {
    await entry.release();
  }
  listed.sort((a, b) => Buffer.compare(a.name, b.name));
  return listed.map(({ name: raw, kind }) => {
    const validUtf8 = isUtf8(raw);
    const name = toDisplayName(raw);
    return { name, kind, escaped: name !== raw.toString('utf8') || !validUtf8, validUtf8 };
  });
}

// ─── Reading and writing through handles ──────────────────────────────────

async function readText(root: string, path: string, options: WorkspaceFileOptions): Promise<{ text: string; path: string }> {
  const maxBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  const entry = await openConfined(root, path, 'read', options);
  try {
    const tooLarge = (bytes: string) =>
      new EnsembleError('TOOL_ERROR', `cannot read ${showPath(path)}: it is ${bytes} bytes, more than the limit of ${maxBytes} (maxReadBytes); read a range of its lines from a smaller file`, { field: 'path' });
    if (entry.stats!.size > maxBytes) throw tooLarge(String(entry.stats!.size));
    // The size may change while we read: read up to one byte past the cap, never more.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const want = Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total);
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await entry.file!.read(chunk, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(`more than ${maxBytes}`);
    }
    return { text: Buffer.concat(chunks, total).toString('utf8'), path: entry.path };
  } catch (error) {
    throw toOperationError(error, options.signal, path, 'read');
  } finally {
    await entry.release();
  }
}

/**
 * Writes a new file beside the target, in the folder held open, and renames it
 * over the target: the target's name is replaced, never opened, so a link or a
 * hard link planted there is replaced too, and nothing outside is written.
 */
async function writeText(root: string, path: string, content: string, options: WorkspaceFileOptions): Promise<WrittenFile> {
  const entry = await openConfined(root, path, 'write', options);
  const temp = inFolder(entry.folder, `.ensemble-${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const handle = await open(temp, TEMP_FILE_FLAGS, 0o666);
    created = true;
    try {
      await handle.writeFile(content, 'utf8');
      // A file replaced keeps its permissions.
      if (entry.stats) await handle.chmod(entry.stats.mode & 0o7777);
    } finally {
      await handle.close();
    }
    // The last moment to stop: after the rename the write has happened.
    options.signal?.throwIfAborted();
    await rename(temp, inFolder(entry.folder, entry.name));
    created = false;
    return { path: entry.path, bytes: Buffer.byteLength(content) };
  } catch (error) {
    throw toOperationError(error, options.signal, path, 'write');
  } finally {
    if (created) await unlink(temp).catch(() => undefined);
    await entry.release();
  }
}



/** An aborted operation rejects with its signal's reason, as Node's own APIs do; anything else as a file error. */
function toOperationError(error: unknown, signal: AbortSignal | undefined, path: string, action: string): unknown {
  return signal?.aborted ? signal.reason : toFileError(error, path, action);
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

function clip(text: string): string {
  return text.length <= 200 ? text : `${text.slice(0, 200)}…`;
}
