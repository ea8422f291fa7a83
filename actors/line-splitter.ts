/**
 * Splits a byte stream into lines, with a cap on how long a line may grow.
 *
 * A server's stdout and stderr are untrusted: a line may never end. Each
 * chunk is scanned once (`indexOf` from where the last scan stopped) and
 * stored as a slice, never concatenated onto what came before, so the work
 * is linear in the bytes received and the memory held is at most
 * `maxLineBytes` plus the chunks those bytes sit in.
 *
 * Past the cap the rest of the line is dropped until its newline, and
 * `onOverflow` is told once per line: stdout treats that as fatal (the
 * message is lost), stderr just keeps the truncated line.
 */
export interface LineSplitterConfig {
  /** Bytes a line may hold, not counting its newline. */
  maxLineBytes: number;
  /** Each complete line (without `\n` or a trailing `\r`); `truncated` when bytes past the cap were dropped. */
  onLine: (line: string, truncated: boolean) => void;
  /** The current line just went over the cap. */
  onOverflow?: () => void;
}

const NEWLINE = 0x0a;

export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private overflowed = false;

  constructor(private readonly config: LineSplitterConfig) {}

  /** Bytes held for the line not yet ended; never more than `maxLineBytes`. */
  get pendingBytes(): number {
    return this.size;
  }

  /** The line not yet ended, as far as it is kept. */
  get pending(): string {
    return this.size === 0 ? '' : Buffer.concat(this.parts, this.size).toString('utf8');
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      if (end > start) this.keep(chunk.subarray(start, end));
      if (newline === -1) return;
      this.endLine();
      start = newline + 1;
    }
  }

  /** Forgets the line in progress (after a stream fault, or on close). */
  clear(): void {
    this.parts = [];
    this.size = 0;
    this.overflowed = false;
  }

  private keep(piece: Buffer): void {
    const room = this.config.maxLineBytes - this.size;
    if (piece.length <= room) {
      this.parts.push(piece);
      this.size += piece.length;
      return;
    }
    if (room > 0) {
      this.parts.push(piece.subarray(0, room));
      this.size += room;
    }
    if (!this.overflowed) {
      this.overflowed = true;
      this.config.onOverflow?.();
    }
  }

  private endLine(): void {
    let line = this.pending;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const truncated = this.overflowed;
    this.clear();
    this.config.onLine(line, truncated);
  }
}
