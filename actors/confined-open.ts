/**
 * Opening a path inside a workspace folder so that nothing outside can be
 * reached, even while someone changes the folder under us: no check-then-use.
 *
 * Node has no `openat`, so each path component is opened relative to the
 * folder handle that holds it, through `/proc/self/fd/<fd>/<name>`: the kernel
 * resolves `/proc/self/fd/<fd>` to the folder we hold, then looks up the one
 * name in it. Folders are opened `O_DIRECTORY | O_NOFOLLOW`, the last entry
 * `O_NOFOLLOW | O_NONBLOCK`: a symbolic link is never followed by the kernel.
 * A link is followed here instead, by reading it and walking its target from
 * the folder it sits in (or from the root, for an absolute target inside the
 * workspace); a `..` goes back to the folder handle we came from, and a `..`
 * above the root, or an absolute target elsewhere, is refused. A folder
 * swapped for a link between two calls is therefore either the folder (inside)
 * or the link (followed only inside): it can never lead out.
 *
 * On top of the walk, what was opened is checked through its handle: its real
 * path (`/proc/self/fd/<fd>`) lies inside the root (a folder moved out while we
 * held it is refused), a file is a regular file (no FIFO, socket or device:
 * opening one with `O_NONBLOCK` never blocks) and has one link (a hard link
 * may share its inode with a file outside).
 *
 * Linux only (it needs `/proc/self/fd`), like the rest of the process-group code.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { EnsembleError } from '../src/core/errors.js';

const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Links followed while resolving one path before giving up, as the kernel does (ELOOP). */
const MAX_LINK_HOPS = 40;

/** Folders a write may find created and removed under it before giving up. */
const MAX_CREATE_RETRIES = 8;

/** What the caller wants at the end of the path. */
export type ConfinedWant = 'directory' | 'read' | 'write';

/** A workspace folder and the names, from its root, of where a walk stands. */
interface Place {
  readonly root: string;
  /** Handles from the root (first) to the folder we stand in (last). */
  readonly folders: FileHandle[];
  /** The names leading from the root to the last folder (one fewer than `folders`). */
  readonly names: string[];
}

/** A walk's result: the folders held open, and what it found at the end. */
export interface ConfinedEntry {
  /** The real path (inside the root), for the caller's own use: never opened again by name. */
  readonly path: string;
  /** The folder holding the entry (or, for `directory`, the folder itself). */
  readonly folder: FileHandle;
  /** The entry's name in `folder`; undefined for `directory`. */
  readonly name: string | undefined;
  /** `read`: the file, open for reading and checked. */
  readonly file?: FileHandle;
  /** `read`: the file's `fstat`. `write`: the existing entry's `lstat`, if any. */
  readonly stats?: Stats;
  /** Closes every handle the walk opened (the file included). */
  release(): Promise<void>;
}

export interface ConfinedOpenOptions {
  /** Stops the walk at its next step (a syscall in progress cannot be interrupted). */
  signal?: AbortSignal;
}

/** `/proc/self/fd/<fd>/<name>`: one name looked up in a folder we hold, never a path walked by name. */
export function inFolder(folder: FileHandle, name?: string): string {
  return name === undefined ? `/proc/self/fd/${folder.fd}` : `/proc/self/fd/${folder.fd}/${name}`;
}

/**
 * Opens `given` inside the workspace `root` without ever following a link
 * the kernel resolves, creating missing folders for `write`.
 *
 * @example
 * const entry = await openConfined('/tmp/ws', 'notes/a.md', 'read');
 * try { await entry.file!.read(...) } finally { await entry.release() }
 */
export async function openConfined(root: string, given: string, want: ConfinedWant, options: ConfinedOpenOptions = {}): Promise<ConfinedEntry> {
  const { signal } = options;
  if (given.includes('\0')) throw refuse(given, root, 'it contains a NUL character');
  const realRoot = await resolveRoot(root);
  const pending = toComponents(given, root, realRoot);
  signal?.throwIfAborted();
  let rootHandle: FileHandle;
  try {
    rootHandle = await open(realRoot, DIRECTORY_FLAGS & ~constants.O_NOFOLLOW);
  } catch (error) {
    throw new EnsembleError('TOOL_ERROR', `the workspace cannot be opened (${errorCode(error) ?? 'error'})`, { field: 'workspace', cause: error });
  }
  const place: Place = { root: realRoot, folders: [rootHandle], names: [] };
  try {
    return await walk(place, pending, given, root, want, signal);
  } catch (error) {
    await closeAll(place.folders);
    throw error;
  }
}

async function walk(place: Place, pending: string[], given: string, root: string, want: ConfinedWant, signal: AbortSignal | undefined): Promise<ConfinedEntry> {
  let hops = 0;
  let creates = 0;
  const action = want === 'directory' ? 'list' : want;
  /** Follows the link at `at`; false when it is not a link (EINVAL), so the caller's own error stands. */
  const follow = async (at: string): Promise<boolean> => {
    let target: string;
    try {
      target = await readlink(at);
    } catch (error) {
      if (errorCode(error) === 'EINVAL') return false;
      throw toFileError(error, given, action);
    }
    if (++hops > MAX_LINK_HOPS) throw new EnsembleError('TOOL_ERROR', `path ${showPath(given)}: too many symbolic links`, { field: 'path' });
    if (isAbsolute(target)) {
      // Folded lexically: the walk from the root below is confined whatever the folding means.
      const inside = relativeToRoot(resolve(target), place.root) ?? relativeToRoot(resolve(target), resolve(root));
      // The target itself is never shown: it may name a place outside.
      if (inside === undefined) throw refuse(given, root, 'it leads outside the workspace through a symbolic link');
      await closeAll(place.folders.splice(1));
      place.names.length = 0;
      pending.unshift(...splitComponents(inside));
    } else {
      pending.unshift(...splitComponents(target));
    }
    return true;
  };
  /** The entry changed between two looks: look at it again, a bounded number of times. */
  const retry = (name: string): void => {
    if (++hops > MAX_LINK_HOPS) throw new EnsembleError('TOOL_ERROR', `cannot ${action} ${showPath(given)}: it keeps changing while it is opened`, { field: 'path' });
    pending.unshift(name);
  };
  for (;;) {
    signal?.throwIfAborted();
    const top = place.folders[place.folders.length - 1]!;
    const name = pending.shift();
    if (name === undefined) {
      if (want !== 'directory') throw toFileError(Object.assign(new Error('EISDIR'), { code: 'EISDIR' }), given, want);
      await checkInside(top, place.root, given, root);
      return entry(place, top, undefined);
    }
    if (name === '..') {
      if (place.folders.length === 1) throw refuse(given, root, 'it leads outside the workspace through a symbolic link');
      await place.folders.pop()!.close();
      place.names.pop();
      continue;
    }
    const at = inFolder(top, name);
    const last = pending.length === 0;
    if (!last || want === 'directory') {
      try {
        place.folders.push(await open(at, DIRECTORY_FLAGS));
        place.names.push(name);
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT' && want === 'write' && !last && creates++ < MAX_CREATE_RETRIES) {
          await mkdir(at, 0o777).catch((failure: unknown) => {
            if (errorCode(failure) !== 'EEXIST') throw toFileError(failure, given, 'create the folder for');
          });
          pending.unshift(name);
          continue;
        }
        // A link (O_NOFOLLOW with O_DIRECTORY says ENOTDIR), or a file where a folder should be.
        if (code === 'ENOTDIR' || code === 'ELOOP') {
          if (await follow(at)) continue;
          // Not a link now, but a folder or a link again: it changed since the open. Look again.
          const now = await lstat(at).catch(() => undefined);
          if (now?.isDirectory() || now?.isSymbolicLink()) {
            retry(name);
            continue;
          }
        }
        throw toFileError(error, given, action);
      }
      continue;
    }
    if (want === 'read') {
      let file: FileHandle;
      try {
        file = await open(at, FILE_FLAGS);
      } catch (error) {
        if (errorCode(error) === 'ELOOP') {
          if (await follow(at)) continue;
          // Not a link any more: look again.
          retry(name);
          continue;
        }
        throw toFileError(error, given, 'read');
      }
      try {
        const stats = await file.stat();
        checkRegular(stats, given, root, 'read');
        await checkInside(file, place.root, given, root);
        return entry(place, top, name, file, stats);
      } catch (error) {
        await file.close();
        throw error;
      }
    }
    // write: what is there now decides; the write itself replaces the entry by rename, never opens it.
    let stats: Stats | undefined;
    try {
      stats = await lstat(at);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw toFileError(error, given, 'write');
    }
    if (stats?.isSymbolicLink()) {
      // Followed; or, no longer a link (replaced since the lstat), looked at again.
      if (!(await follow(at))) retry(name);
      continue;
    }
    if (stats) checkRegular(stats, given, root, 'write');
    await checkInside(top, place.root, given, root);
    return entry(place, top, name, undefined, stats);
  }
}

function entry(place: Place, folder: FileHandle, name: string | undefined, file?: FileHandle, stats?: Stats): ConfinedEntry {
  const names = name === undefined ? place.names : [...place.names, name];
  const folders = place.folders;
  return {
    path: names.length === 0 ? place.root : `${place.root}${sep}${names.join(sep)}`,
    folder,
    name,
    ...(file ? { file } : {}),
    ...(stats ? { stats } : {}),
    release: async () => {
      await file?.close().catch(() => undefined);
      await closeAll(folders);
    },
  };
}

/** Regular files only, with one link: a FIFO would block, a device never ends, a hard link may be a file outside. */
function checkRegular(stats: Stats, given: string, root: string, action: string): void {
  if (stats.isDirectory()) throw toFileError(Object.assign(new Error('EISDIR'), { code: 'EISDIR' }), given, action);
  if (!stats.isFile()) {
    const kind = stats.isFIFO() ? 'a FIFO' : stats.isSocket() ? 'a socket' : stats.isCharacterDevice() || stats.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new EnsembleError('TOOL_ERROR', `cannot ${action} ${showPath(given)}: it is ${kind}, not a regular file`, { field: 'path' });
  }
  if (stats.nlink > 1) {
    throw refuse(given, root, `it has ${stats.nlink} hard links, and another of its names may lie outside the workspace`);
  }
}

/** The handle's real path lies inside the root: catches a folder moved out while we held it. */
async function checkInside(handle: FileHandle, realRoot: string, given: string, root: string): Promise<void> {
  let real: string;
  try {
    real = await readlink(inFolder(handle));
  } catch (error) {
    throw toFileError(error, given, 'open');
  }
  if (relativeToRoot(real, realRoot) === undefined) throw refuse(given, root, 'it was moved outside the workspace while it was being opened');
}

async function closeAll(handles: FileHandle[]): Promise<void> {
  await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
}

// ─── Paths, lexically ─────────────────────────────────────────────────────

async function resolveRoot(root: string): Promise<string> {
  try {
    return await realpath(root);
  } catch (error) {
    throw new EnsembleError('TOOL_ERROR', `workspace ${showPath(root)} cannot be opened (${errorCode(error) ?? 'error'})`, { field: 'workspace', cause: error });
  }
}

/**
 * The components of `given` to walk from the root. An absolute path must lie
 * inside the root (as given or realpath'ed) lexically, and is not probed
 * otherwise; a relative one whose `..` climbs above the root is refused.
 */
function toComponents(given: string, root: string, realRoot: string): string[] {
  if (isAbsolute(given)) {
    const candidate = resolve(given);
    const inside = relativeToRoot(candidate, realRoot) ?? relativeToRoot(candidate, resolve(root));
    if (inside === undefined) throw refuse(given, root, 'it is outside the workspace');
    return splitComponents(inside);
  }
  const parts = splitComponents(given);
  let depth = 0;
  for (const part of parts) {
    depth += part === '..' ? -1 : 1;
    if (depth < 0) throw refuse(given, root, 'its ".." leaves the workspace');
  }
  return parts;
}

/** Names to walk: empty and `.` parts dropped, `..` kept (its meaning depends on the links before it). */
function splitComponents(path: string): string[] {
  return path.split(sep === '\\' ? /[\\/]/ : '/').filter((part) => part !== '' && part !== '.');
}

/** `path` relative to `root` when it lies inside it (`''` for the root itself). */
function relativeToRoot(path: string, root: string): string | undefined {
  if (path === root) return '';
  const prefix = root.endsWith(sep) ? root : root + sep;
  return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
}

// ─── Messages ──────────────────────────────────────────────────────────────

/** Longest path shown whole in a message. */
const MAX_SHOWN_PATH = 160;

/**
 * A refusal names the path as it was given and the workspace, never where a
 * link or a handle led: that place is outside, and the caller may be a model.
 */
export function refuse(given: string, root: string, why: string): EnsembleError {
  return new EnsembleError('PATH_OUTSIDE_WORKSPACE', `path ${showPath(given)} is refused: ${why} (workspace ${showPath(root)})`, { field: 'path' });
}

/** A Node file-system error as an `EnsembleError` a person can act on; Node's own message (which names `/proc/self/fd/…`) is left out. */
export function toFileError(error: unknown, path: string, action: string): EnsembleError {
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
    // What opening a socket, or a device with no driver behind it, answers.
    ENXIO: `cannot ${action} ${shown}: it is not a regular file (a socket, or a device with nothing behind it)`,
  };
  const message = (code !== undefined && Object.hasOwn(messages, code) ? messages[code] : undefined) ?? `cannot ${action} ${shown}: ${code ?? 'failed'}`;
  return new EnsembleError('TOOL_ERROR', message, { field: 'path', cause: error });
}

export function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function longestComponent(path: string): number {
  return Math.max(0, ...path.split(/[\\/]/).map((part) => Buffer.byteLength(part)));
}

/** A path quoted (control characters escaped) and shortened when very long. */
export function showPath(path: string): string {
  return path.length <= MAX_SHOWN_PATH ? JSON.stringify(path) : `${JSON.stringify(path.slice(0, MAX_SHOWN_PATH))}… (${path.length} characters)`;
}
