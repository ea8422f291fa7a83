/**
 * MCP stdio client transport that owns its server's whole process group.
 *
 * The SDK's StdioClientTransport kills only its direct child, which orphans
 * the real server when the command is a wrapper such as `npx`. This one starts
 * the child as a group leader (`detached`), reads stderr (a child whose piped
 * stderr is never read can stall), and on close ends the group: stdin EOF,
 * then SIGTERM, then SIGKILL, each after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import process from 'node:process';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { signalGroup, trackGroup, untrackGroup } from './process-group.js';

export interface ProcessTransportConfig {
  command: string;
  args: string[];
  /** Added to Ensemble's own environment. */
  env: Record<string, string>;
  cwd: string;
  /** How long each step of close waits for the process to exit. */
  graceMs?: number;
  /** Each complete stderr line; the last lines are kept for error messages anyway. */
  onStderrLine?: (line: string) => void;
  /** A line on stdout that is not JSON-RPC; the transport carries on. */
  onGarbage?: (error: Error) => void;
}

const STDERR_TAIL_LINES = 20;

export class ProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child?: ChildProcess;
  private readonly buffer = new ReadBuffer();
  private readonly stderrTail: string[] = [];
  private stderrPartial = '';
  private exited?: Promise<void>;
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };
  private closing = false;

  constructor(private readonly config: ProcessTransportConfig) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How the process ended, once it has. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  /** The last lines the server wrote to stderr: the best clue when it fails to start. */
  get stderrLines(): string[] {
    return this.stderrPartial ? [...this.stderrTail, this.stderrPartial] : [...this.stderrTail];
  }

  start(): Promise<void> {
    if (this.child) throw new Error('ProcessTransport already started');
    const { command, args, env, cwd } = this.config;
    // Node reports a missing cwd as ENOENT, just like a missing command: tell them apart here.
    if (!isDirectory(cwd)) {
      const error = Object.assign(new Error(`working folder does not exist: ${cwd}`), { code: 'ENOCWD' });
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd,
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        windowsHide: true,
      });
      this.child = child;
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
      child.once('spawn', () => {
        if (child.pid !== undefined) trackGroup(child.pid);
        resolve();
      });
      child.stdout!.on('data', (chunk: Buffer) => this.receive(chunk));
      child.stderr!.on('data', (chunk: Buffer) => this.receiveStderr(chunk));
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
    if (!child || this.closing) return this.exited;
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
    this.buffer.clear();
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

  private receive(chunk: Buffer): void {
    this.buffer.append(chunk);
    for (;;) {
      let message: JSONRPCMessage | null;
      try {
        message = this.buffer.readMessage();
      } catch (error) {
        // A line that is not JSON-RPC: report it and keep reading the next ones.
        this.config.onGarbage?.(error as Error);
        continue;
      }
      if (message === null) return;
      this.onmessage?.(message);
    }
  }

  private receiveStderr(chunk: Buffer): void {
    const lines = (this.stderrPartial + chunk.toString('utf8')).split('\n');
    this.stderrPartial = lines.pop() ?? '';
    for (const line of lines) {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
      this.config.onStderrLine?.(line);
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
