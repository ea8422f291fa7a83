/**
 * A watchdog that ends Ensemble's servers when Ensemble dies without
 * closing them (SIGKILL, an OOM kill, a crash in native code): then no exit
 * handler runs, and a server that does not notice its stdin closing would
 * live on for good.
 *
 * One small `node` process per Ensemble process, started with the first
 * server. It reads "+<pgid>" / "-<pgid>" lines on a pipe from Ensemble and
 * holds the set of live server process groups. The pipe's write end exists
 * only in Ensemble (libuv opens pipes close-on-exec, so servers do not hold
 * it), so the kernel closes it when Ensemble dies, however it dies: the
 * watchdog sees end-of-file, sends SIGTERM to every group it holds, and
 * SIGKILL half a second later.
 *
 * The normal path stays cheap: the watchdog starts once, in the background
 * (nothing waits for it), and each server costs one short write. Writes made
 * before the watchdog has booted wait in the pipe, so a server started just
 * before Ensemble dies is still ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import process from 'node:process';

/** How long the watchdog lets servers handle SIGTERM before it sends SIGKILL. */
export const WATCHDOG_KILL_DELAY_MS = 500;

/** The watchdog's whole program, run with `node -e` so it needs no file on disk (works from src/ and from a build). */
const WATCHDOG_SOURCE = `
const groups = new Set();
let rest = '';
const signalAll = (signal) => { for (const group of groups) { try { process.kill(-group, signal); } catch {} } };
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('SIGHUP', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  const lines = (rest + chunk).split('\\n');
  rest = lines.pop();
  for (const line of lines) {
    const group = Number(line.slice(1));
    if (!Number.isInteger(group) || group <= 1) continue;
    if (line[0] === '+') groups.add(group); else if (line[0] === '-') groups.delete(group);
  }
});
process.stdin.on('end', () => {
  if (groups.size === 0) process.exit(0);
  signalAll('SIGTERM');
  setTimeout(() => { signalAll('SIGKILL'); process.exit(0); }, ${WATCHDOG_KILL_DELAY_MS});
});
`;

let watchdog: ChildProcess | undefined;
let failed = false;
/** What the watchdog must know, so a watchdog started again (the last one was killed) learns every live group. */
const watched = new Set<number>();

/** Pid of the watchdog, once one was started; for tests and diagnostics. */
export function getWatchdogPid(): number | undefined {
  return watchdog?.pid;
}

/** The watchdog ends this process group if Ensemble dies first. */
export function watchGroup(pgid: number): void {
  watched.add(pgid);
  tell(`+${pgid}\n`);
}

/** The group is gone (or about to be reaped): the watchdog must not signal its id, which may be reused. */
export function unwatchGroup(pgid: number): void {
  if (!watched.delete(pgid) || watchdog === undefined) return;
  tell(`-${pgid}\n`);
}

function tell(line: string): void {
  const fresh = watchdog === undefined;
  const stdin = ensureWatchdog()?.stdin;
  if (fresh && stdin && !stdin.destroyed) {
    // A new watchdog knows nothing yet: tell it every group (the one in `line` among them).
    stdin.write([...watched].map((group) => `+${group}\n`).join(''));
    return;
  }
  // A watchdog that failed to start or died leaves the exit hook in process-group.ts as the only guard.
  if (stdin && !stdin.destroyed) stdin.write(line);
}

function ensureWatchdog(): ChildProcess | undefined {
  if (watchdog || failed) return watchdog;
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], {
    // Its own group, so a Ctrl-C aimed at Ensemble's terminal group does not take the guard down first.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    // It needs nothing from Ensemble's environment, so it is given none.
    env: {},
    windowsHide: true,
  });
  child.once('error', () => {
    failed = true;
    watchdog = undefined;
  });
  child.once('exit', () => {
    if (watchdog === child) watchdog = undefined;
  });
  child.stdin?.on('error', () => undefined);
  // The watchdog must never keep Ensemble alive: neither the process nor its pipe holds the event loop.
  child.unref();
  if (child.stdin instanceof Socket) child.stdin.unref();
  watchdog = child;
  return child;
}
