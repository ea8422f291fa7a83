/**
 * `ensemble serve` as clients meet it: per-call cost through the aggregator against a direct SDK
 * client on the same backend (server-everything `echo`), over stdio and over Streamable HTTP,
 * beside the floor — an SDK-only Streamable HTTP proxy (bench/sdk-http-proxy.mjs) that forwards
 * tools/list and tools/call and nothing else. Also: `tools/list` over 4 backends, and for a killed
 * backend the time to `list_changed` and back to its tools in the same session.
 *
 * Every arm is whole processes started fresh each round (the compiled CLI, as users run it);
 * rounds alternate the order of the arms. Targets (issue 9): serve over stdio ≤ 1.25 × direct;
 * over HTTP ≤ 1.1 × the SDK-only floor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { REPO_ROOT, round, summarize, type BenchContext, type BenchResult } from './support.js';

const exec = promisify(execFile);

export const description = 'ensemble serve: per call over stdio and HTTP vs a direct client and an SDK-only HTTP proxy; tools/list of 4 backends; death → list_changed → back';

const TARGET = { stdioRatio: 1.25, httpOverFloor: 1.1 };
const BIN = resolve(REPO_ROOT, 'bin/ensemble.js');
const EVERYTHING = resolve(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FIXTURE = resolve(REPO_ROOT, 'test/fixtures/fixture-server.mjs');
const FLOOR = resolve(REPO_ROOT, 'bench/sdk-http-proxy.mjs');

type Arm = 'direct' | 'serveStdio' | 'serveHttp' | 'floorHttp';

function userEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'ENSEMBLE_FROM_SOURCE') env[key] = value;
  return env;
}

/** Starts a process that prints `listening <url>` and resolves with the url. */
function startListening(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { env: userEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening (\S+)/.exec(out);
      if (match) resolvePromise({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code} before listening`)));
  });
}

async function timeCalls(client: Client, tool: string, n: number, warmup: number): Promise<{ perCallMs: number; cpuPerCallMs: number }> {
  for (let i = 0; i < warmup; i += 1) await client.callTool({ name: tool, arguments: { message: `w${i}` } });
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < n; i += 1) await client.callTool({ name: tool, arguments: { message: `m${i}` } });
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { perCallMs: wall / n, cpuPerCallMs: (used.user + used.system) / 1000 / n };
}

async function connect(transport: Transport): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function measureArm(arm: Arm, config: string, n: number, warmup: number) {
  if (arm === 'direct') {
    const client = await connect(new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'] }));
    try {
      return await timeCalls(client, 'echo', n, warmup);
    } finally {
      await client.close();
    }
  }
  if (arm === 'serveStdio') {
    const client = await connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'serve', '--config', config], env: userEnv() }));
    try {
      return await timeCalls(client, 'ev__echo', n, warmup);
    } finally {
      await client.close();
    }
  }
  const { child, url } = arm === 'serveHttp' ? await startListening([BIN, 'serve', '--config', config, '--http', '127.0.0.1:0']) : await startListening([FLOOR, process.execPath, EVERYTHING, 'stdio']);
  const client = await connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    return await timeCalls(client, arm === 'serveHttp' ? 'ev__echo' : 'echo', n, warmup);
  } finally {
    await client.close();
    child.kill('SIGTERM');
    await new Promise((done) => child.once('exit', done));
  }
}

/** tools/list through serve over 4 backends, and a killed backend's withdrawal and return as a client sees them. */
async function measureMembership(dir: string, rounds: number) {
  const config = join(dir, 'four.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        ev: { command: process.execPath, args: [EVERYTHING, 'stdio'] },
        mem: { command: process.execPath, args: [resolve(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js')], env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') } },
        fs: { command: process.execPath, args: [resolve(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js'), dir] },
        fx: { command: process.execPath, args: [FIXTURE] },
      },
    }),
  );
  const client = await connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'serve', '--config', config], env: userEnv() }));
  let onChange: (() => void) | undefined;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => onChange?.());
  const nextChange = () => new Promise<number>((done) => (onChange = () => done(performance.now())));
  try {
    const listMs: number[] = [];
    let tools = 0;
    for (let i = 0; i < 20; i += 1) {
      const started = performance.now();
      tools = (await client.listTools()).tools.length;
      listMs.push(performance.now() - started);
    }
    const deathMs: number[] = [];
    const backMs: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      const pids = await client.callTool({ name: 'fx__pids', arguments: {} });
      const pid = (JSON.parse((pids.content as { text: string }[])[0]!.text) as { pid: number }).pid;
      const withdrawn = nextChange();
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      deathMs.push((await withdrawn) - killedAt);
      const back = nextChange();
      backMs.push((await back) - killedAt);
      // The same session lists the backend's tools again.
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      if (!names.includes('fx__echo')) throw new Error('fx tools did not come back in the same session');
    }
    return { tools, list: summarize(listMs), death: summarize(deathMs), back: summarize(backMs) };
  } finally {
    await client.close();
  }
}

export async function run(context: BenchContext): Promise<BenchResult> {
  const { n, rounds, warmup, log } = context;
  log('serve: building dist/ (npm run build)');
  await exec('npm', ['run', 'build'], { cwd: REPO_ROOT });
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-serve-bench-'));
  try {
    const config = join(dir, 'everything.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { ev: { command: process.execPath, args: [EVERYTHING, 'stdio'] } } }));
    const arms: Arm[] = ['direct', 'serveStdio', 'serveHttp', 'floorHttp'];
    const samples = new Map<Arm, { perCallMs: number; cpuPerCallMs: number }[]>(arms.map((arm) => [arm, []]));
    for (let r = 0; r < rounds; r += 1) {
      log(`serve: round ${r + 1}/${rounds}`);
      const order = r % 2 === 0 ? arms : [...arms].reverse();
      for (const arm of order) samples.get(arm)!.push(await measureArm(arm, config, n, warmup));
    }
    const median = (arm: Arm) => summarize(samples.get(arm)!.map((s) => s.perCallMs)).median;
    const cpu = (arm: Arm) => summarize(samples.get(arm)!.map((s) => s.cpuPerCallMs)).median;
    log('serve: membership (4 backends)');
    const membership = await measureMembership(dir, Math.max(1, Math.min(rounds, 3)));
    const stdioRatio = median('serveStdio') / median('direct');
    const httpOverFloor = median('serveHttp') / median('floorHttp');
    const met = (ok: boolean) => (ok ? 'met' : 'not met');
    return {
      tables: [
        {
          title: `ensemble serve, server-everything echo, ${n} calls per round (median of ${rounds}; client CPU beside)`,
          rows: [
            ['direct SDK client, stdio', `${round(median('direct'))} ms`, `CPU ${round(cpu('direct'))} ms`],
            ['through ensemble serve, stdio', `${round(median('serveStdio'))} ms`, `${round(stdioRatio)}× direct`],
            ['SDK-only HTTP proxy (the floor)', `${round(median('floorHttp'))} ms`, `${round(median('floorHttp') / median('direct'))}× direct`],
            ['through ensemble serve, HTTP', `${round(median('serveHttp'))} ms`, `${round(httpOverFloor)}× the floor, ${round(median('serveHttp') / median('direct'))}× direct`],
            [`tools/list, 4 backends (${membership.tools} tools)`, `${round(membership.list.median)} ms`, `min ${round(membership.list.min)}, max ${round(membership.list.max)}`],
            ['backend SIGKILL → list_changed', `${round(membership.death.median)} ms`, `min ${round(membership.death.min)}, max ${round(membership.death.max)}`],
            ['backend SIGKILL → its tools back (same session)', `${round(membership.back.median)} ms`, 'includes the restart backoff (500 ms + jitter by default)'],
          ],
        },
      ],
      lines: [`target: serve over stdio ≤ ${TARGET.stdioRatio} × direct — ${met(stdioRatio <= TARGET.stdioRatio)}`, `target: serve over HTTP ≤ ${TARGET.httpOverFloor} × the SDK-only floor — ${met(httpOverFloor <= TARGET.httpOverFloor)}`],
      figures: {
        perCallMs: Object.fromEntries(arms.map((arm) => [arm, round(median(arm))])),
        clientCpuPerCallMs: Object.fromEntries(arms.map((arm) => [arm, round(cpu(arm))])),
        stdioRatio: round(stdioRatio),
        httpOverFloor: round(httpOverFloor),
        toolsList4Ms: round(membership.list.median),
        deathToListChangedMs: round(membership.death.median),
        deathToToolsBackMs: round(membership.back.median),
        target: TARGET,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
