/**
 * Each error printed once. One failure reaches a person several ways: the
 * server goes unavailable (on every replica and restart), its task fails with
 * a message that quotes the server's, the run fails with the same message and
 * the summary names it again. The ledger remembers what was printed: the first
 * line gives a message whole, later ones say "(as above)" in its place.
 */

export const AS_ABOVE = '(as above)';

/** Messages printed so far; a failure is told in a few lines close together, so the last few are enough. */
const REMEMBERED = 32;

export interface ErrorLedger {
  /**
   * The message as the next line should show it: whole the first time, `(as above)` once
   * printed, and with an earlier message it quotes replaced by `(as above)`.
   */
  tell(message: string): string;
}

/**
 * @example
 * const ledger = createErrorLedger();
 * ledger.tell('server "fx" failed to start')                          // 'server "fx" failed to start'
 * ledger.tell('task "a": server "fx" failed to start')                // 'task "a": (as above)'
 * ledger.tell('server "fx" failed to start')                          // '(as above)'
 * ledger.tell('fx is unavailable (server "fx" failed to start); …')   // 'fx is unavailable (as above); …'
 */
export function createErrorLedger(): ErrorLedger {
  const printed: string[] = [];
  return {
    tell(message) {
      for (const earlier of printed) {
        if (message === earlier) return AS_ABOVE;
        // A message that quotes an earlier one in parentheses reads "… (as above); …", not "((as above))".
        if (message.includes(`(${earlier})`)) return message.replace(`(${earlier})`, AS_ABOVE);
        if (message.includes(earlier)) return message.replace(earlier, AS_ABOVE);
      }
      printed.push(message);
      if (printed.length > REMEMBERED) printed.shift();
      return message;
    },
  };
}
