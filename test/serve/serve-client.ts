/**
 * A real SDK `Client` against `ensemble serve` started as a child process
 * (`test/fixtures/serve-entry.ts` under tsx), over stdio or Streamable HTTP,
 * with what the tests wait on: the tool list as it is after each
 * `notifications/tools/list_changed`, and log notifications.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { vi } from 'vitest';
import { ROOT } from '../support/fixture.js';

export const SERVE_ENTRY = join(ROOT, 'test/fixtures/serve-entry.ts');
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const MEMORY = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

export interface WatchedClient {
  client: Client;
  /** The tool list as last fetched (after connect, then after each list_changed). */
  tools(): Tool[];
  /** How many list_changed notifications arrived so far. */
  listChanged(): number;
  /** Every list fetched, in order, the first one included. */
  history: Tool[][];
  /** Log notifications received, as their `data`. */
  logs: unknown[];
  /** Waits until the latest list satisfies `predicate`, fetched after a list_changed. */
  waitForTools(predicate: (tools: Tool[]) => boolean): Promise<Tool[]>;
  close(): Promise<void>;
}

export function writeConfig(dir: string, config: unknown, name = 'serve.json'): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Connects a client to an `ensemble serve` child over stdio. */
export async function connectStdio(config: string, ...flags: string[]): Promise<WatchedClient & { stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: ['--import', 'tsx', SERVE_ENTRY, '--config', config, ...flags], cwd: ROOT, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const watched = await watch(transport);
  return { ...watched, stderr: () => stderr };
}

/** Starts an `ensemble serve --http` child; resolves with its URL once it listens. */
export async function startHttpServe(config: string, ...flags: string[]): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  return startHttpServeWith({ config, flags });
}

export interface HttpServeOptions {
  config: string;
  /** Default `127.0.0.1:0`. */
  http?: string;
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  flags?: string[];
}

/** `startHttpServe` with the bound address and the environment given. */
export async function startHttpServeWith(options: HttpServeOptions): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const args = ['--import', 'tsx', SERVE_ENTRY, '--config', options.config, '--http', options.http ?? '127.0.0.1:0', ...(options.flags ?? [])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /^listening (\S+)$/.exec(line);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening: ${stderr}`)));
  });
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function connectHttp(url: string, headers?: Record<string, string>): Promise<WatchedClient> {
  return watch(new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : undefined));
}

async function watch(transport: StdioClientTransport | StreamableHTTPClientTransport): Promise<WatchedClient> {
  const client = new Client({ name: 'serve-test', version: '0.0.0' }, { capabilities: {} });
  let latest: Tool[] = [];
  let changes = 0;
  const logs: unknown[] = [];
  const history: Tool[][] = [];
  let fetched = Promise.resolve();
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changes++;
    // Fetched in order, so `latest` is always the list as of the last notification.
    fetched = fetched.then(async () => {
      latest = (await client.listTools()).tools;
      history.push(latest);
    }).catch(() => undefined);
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    logs.push(notification.params.data);
  });
  await client.connect(transport);
  latest = (await client.listTools()).tools;
  history.push(latest);
  return {
    client,
    tools: () => latest,
    listChanged: () => changes,
    history,
    logs,
    async waitForTools(predicate) {
      await vi.waitFor(() => {
        if (!predicate(latest)) throw new Error(`tool list not as expected yet: ${latest.map((tool) => tool.name).join(', ')}`);
      }, { timeout: 20_000, interval: 20 });
      return latest;
    },
    close: () => client.close(),
  };
}

/** The names in a tool list. */
export const namesOf = (tools: Tool[]) => tools.map((tool) => tool.name);

/** The text of a tool result's first content block. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.filter((block) => block.type === 'text').map((block) => block.text ?? '').join('\n');
}
