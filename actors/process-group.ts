/**
 * Every server process Ensemble starts leads its own process group, so that
 * closing a server also ends what it started (`npx` runs the real server as
 * a grandchild). This module keeps the live groups and kills them all if
 * Ensemble's own process exits without closing them; the watchdog
 * (`process-watchdog.ts`) covers a death that runs no exit handler (SIGKILL).
 */
import process from 'node:process';
import { unwatchGroup, watchGroup } from './process-watchdog.js';

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Remembers a group so it is killed if this process exits first. */
export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
  watchGroup(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // 'exit' handlers must be synchronous: a plain SIGKILL is all we can do here.
    process.once('exit', () => {
      for (const group of liveGroups) signalGroup(group, 'SIGKILL');
    });
  }
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid);
  unwatchGroup(pgid);
}

/** Sends a signal to a whole group; false when no member was left to get it. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Groups still alive that Ensemble started; for tests and diagnostics. */
export function listLiveGroups(): number[] {
  return [...liveGroups];
}
