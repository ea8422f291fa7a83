/**
 * MCP stdio client transport that owns its server's whole process group.
 *
 * The SDK's StdioClientTransport kills only its direct child, which orphans
 * the real server when the command is a wrapper such as `npx`. This one starts
 * the child as a group leader (`detached`), reads stderr (a child whose piped
 * stderr is never read can stall), and on close ends the group: stdin EOF,
 * then SIGTERM, then SIGKILL, each after a grace period.
 *
 * What a server writes is untrusted, and nothing it writes may take Ensemble
 * down or grow its memory without bound:
 * - a message (one stdout line) longer than `maxMessageBytes` is a fault of
 *   the server. Skipping to the next newline would resynchronise the stream,
 *   but the lost message cannot be matched to its request (its `id` comes
 *   last), so that call would hang to its timeout, and a server that writes
 *   without newlines may never send one. So the transport stops the server
 *   instead: every call in flight fails at once with the reason, and the
 *   server's lifecycle degrades or recovers it like any death;
 * - lines on stdout that are not JSON-RPC are counted, the first few kept
 *   (truncated) and reported; a run of `MAX_GARBAGE_RUN` of them with no
 *   message between is a flood, which stops the server the same way;
 * - stderr keeps only its last lines (each truncated) and the first line
 *   that mentions an error, which is the clue a failed start needs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { deserializeMessage, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LineSplitter } from './line-splitter.js';
import { signalGroup, trackGroup, untrackGroup } from './process-group.js';
import { createServerEnvironment } from './server-environment.js';

export interface ProcessTransportConfig {
  /** The server's name in the workflow: messages name it and the setting to change. */
  server: string;
  command: string;
  args: string[];
  /** Declared variables, on top of the SDK's default environment (see `server-environment.ts`). */
  env: Record<string, string>;
  /** Start from Ensemble's whole environment. */
  inheritEnv?: boolean;
  /** Ensemble's variables passed on by name. */
  passEnv?: readonly string[];
  cwd: string;
  /** Longest message (stdout line) accepted; default `DEFAULT_MAX_MESSAGE_BYTES`. */
  maxMessageBytes?: number;
  /** How long each step of close waits for the process to exit. */
  graceMs?: number;
  /** Each complete stderr line (truncated to `STDERR_LINE_BYTES`). */
  onStderrLine?: (line: string) => void;
  /**
   * Something on stdout that is not JSON-RPC: the first `GARBAGE_SAMPLES`
   * lines (quoted, truncated), then one line saying the rest are only counted.
   */
  onGarbage?: (description: string) => void;
}

/** The SDK's own limit for a stdio message. */
export const DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/** stderr lines kept for error messages. */
export const STDERR_TAIL_LINES = 20;
/** Longest stderr line kept; the rest of a longer line is dropped. */
export const STDERR_LINE_BYTES = 2048;
/** Non-JSON-RPC stdout lines in a row (no message between) that count as a flood. */
export const MAX_GARBAGE_RUN = 100;
/** Non-JSON-RPC lines reported one by one; later ones are only counted. */
export const GARBAGE_SAMPLES = 3;
/** Characters of a garbage line kept as a sample. */
const GARBAGE_SAMPLE_CHARS = 200;

/** What a server wrote on stdout that was not JSON-RPC. */
export interface GarbageCount {
  lines: number;
  /** The first `GARBAGE_SAMPLES` lines, truncated. */
  samples: string[];
}

export class ProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child?: ChildProcess;
  private readonly stdout: LineSplitter;
  private readonly stderr: LineSplitter;
  private readonly stderrTail: string[] = [];
  private firstErrorLine?: string;
  private readonly garbageCount: GarbageCount = { lines: 0, samples: [] };
  private garbageRun = 0;
  private faultMessage?: string;
  private exited?: Promise<void>;
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };
  private closing = false;
  private started = false;

  constructor(private readonly config: ProcessTransportConfig) {
    const maxMessageBytes = config.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.stdout = new LineSplitter({
      maxLineBytes: maxMessageBytes,
      onLine: (line) => this.receiveLine(line),
      onOverflow: () =>
        this.fail(`it sent a message larger than ${maxMessageBytes} bytes, the limit set by servers.${config.server}.maxMessageBytes`),
    });
    this.stderr = new LineSplitter({ maxLineBytes: STDERR_LINE_BYTES, onLine: (line) => this.receiveStderrLine(line) });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How the process ended, once it has. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  /** Why the transport stopped the server itself (an oversized message, a flood), if it did. */
  get fault(): string | undefined {
    return this.faultMessage;
  }

  /** Lines on stdout that were not JSON-RPC, so far. */
  get garbage(): GarbageCount {
    return { lines: this.garbageCount.lines, samples: [...this.garbageCount.samples] };
  }

  /** Bytes held for the stdout and stderr lines not yet ended; bounded by the limits above. */
  get pendingBytes(): { stdout: number; stderr: number } {
    return { stdout: this.stdout.pendingBytes, stderr: this.stderr.pendingBytes };
  }

  /** The last lines the server wrote to stderr (the line in progress last): the best clue when it fails to start. */
  get stderrLines(): string[] {
    const pending = this.stderr.pending;
    return pending ? [...this.stderrTail, pending] : [...this.stderrTail];
  }

  /**
   * What an error message shows of stderr: the first line that mentions an
   * error (Node's `Error: Cannot find module …` comes before a stack trace
   * that pushes it out of the tail), then the last `count` non-blank lines.
   */
  stderrExcerpt(count = 3): string[] {
    const tail = this.stderrLines.filter((line) => line.trim() !== '').slice(-count);
    const first = this.firstErrorLine;
    return first !== undefined && !tail.includes(first) ? [first, ...tail] : tail;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('ProcessTransport already started');
    this.started = true;
    const { command, args, cwd } = this.config;
    // Node reports a missing cwd as ENOENT, just like a missing command: tell them apart here.
    if (!isDirectory(cwd)) {
      throw Object.assign(new Error(`working folder does not exist: ${cwd}`), { code: 'ENOCWD' });
    }
    const env = await createServerEnvironment(this.config);
    // Closed while the environment was being made: start nothing that no one would close.
    if (this.closing) throw new Error('closed while starting');
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
      });
      this.child = child;
      // The pid is known as soon as spawn() returns: register the group at once, not on the later
      // 'spawn' event, so an Ensemble killed in between still has the watchdog end it.
      if (child.pid !== undefined) trackGroup(child.pid);
      this.exited = new Promise((settled) => {
        child.once('close', (code, signal) => {
          this.exitInfo = { code, signal };
          if (child.pid !== undefined) {
            // Whatever the leader left behind in its group goes with it.
            signalGroup(child.pid, 'SIGKILL');
            untrackGroup(child.pid);
          }
          settled();
          this.onclose?.();
        });
      });
      child.once('error', (error) => {
        reject(error);
        this.onerror?.(error);
      });
      child.once('spawn', () => resolve());
      child.stdout!.on('data', (chunk: Buffer) => {
        // After a fault the stream is not trusted any more; it is still drained so the server never blocks on it.
        if (this.faultMessage === undefined) this.stdout.push(chunk);
      });
      child.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk));
      // EPIPE when the server died before reading what we sent: the close handler reports it.
      child.stdin!.on('error', (error) => this.onerror?.(error));
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.closing || this.exitInfo) return Promise.reject(new Error('Not connected'));
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.closing) {
      // Before the spawn, this stops `start` from spawning at all.
      this.closing = true;
      return this.exited;
    }
    this.closing = true;
    const grace = this.config.graceMs ?? 1500;
    if (!this.exitInfo) {
      child.stdin?.end();
      if (!(await this.waitForExit(grace)) && child.pid !== undefined) {
        signalGroup(child.pid, 'SIGTERM');
        if (!(await this.waitForExit(grace))) signalGroup(child.pid, 'SIGKILL');
      }
    }
    await this.exited;
    this.stdout.clear();
  }

  private waitForExit(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      timer.unref();
      void this.exited!.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** The server broke the protocol in a way that cannot be recovered: stop it, keeping the reason. */
  private fail(reason: string): void {
    if (this.faultMessage !== undefined) return;
    this.faultMessage = reason;
    this.stdout.clear();
    this.onerror?.(new Error(`server "${this.config.server}": ${reason}`));
    // The process's exit closes the transport, which fails every call in flight with `fault` as the reason.
    void this.close();
  }

  private receiveLine(line: string): void {
    // Lines after a fault, still in the chunk being split, are not trusted.
    if (this.faultMessage !== undefined) return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch {
      this.receiveGarbage(line);
      return;
    }
    this.garbageRun = 0;
    this.onmessage?.(message);
  }

  private receiveGarbage(line: string): void {
    const count = this.garbageCount;
    count.lines += 1;
    this.garbageRun += 1;
    if (count.samples.length < GARBAGE_SAMPLES) {
      const sample = line.length > GARBAGE_SAMPLE_CHARS ? `${line.slice(0, GARBAGE_SAMPLE_CHARS)}…` : line;
      count.samples.push(sample);
      this.config.onGarbage?.(JSON.stringify(sample));
    } else if (count.lines === GARBAGE_SAMPLES + 1) {
      this.config.onGarbage?.('more lines follow; they are counted, not shown');
    }
    if (this.garbageRun >= MAX_GARBAGE_RUN) {
      this.fail(
        `it flooded stdout with ${this.garbageRun} lines in a row that are not JSON-RPC (first: ${JSON.stringify(count.samples[0] ?? '')}); stdout is reserved for MCP messages, logs belong on stderr`,
      );
    }
  }

  private receiveStderrLine(line: string): void {
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    if (this.firstErrorLine === undefined && /error/i.test(line)) this.firstErrorLine = line;
    this.config.onStderrLine?.(line);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
