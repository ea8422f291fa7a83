/**
 * Workflows on the reference MCP servers users point Ensemble at, each a real
 * child process over stdio: `server-everything`, `server-filesystem`, and the
 * fixture server, alone and together. Results flow from task to task and from
 * resources into args; what the servers did is checked on the bus, in the
 * report and on disk.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runWorkflow, type BusEvent, type RunReport } from '../../src/index.js';
import { createTempDir, fixtureServer, ROOT } from '../support/fixture.js';
import { eventsOf, taskOf, taskTrail } from '../support/bus-record.js';

const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const FILESYSTEM = join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');

/** Starting three real servers can take a few seconds on a loaded machine. */
const TIMEOUT = 60_000;

const everythingServer = () => ({ command: process.execPath, args: [EVERYTHING, 'stdio'] });
const filesystemServer = (allowed: string) => ({ command: process.execPath, args: [FILESYSTEM, allowed] });

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tempDir(): string {
  const { dir, remove } = createTempDir('ensemble-reference-');
  cleanups.push(remove);
  return dir;
}

/** Runs a workflow document and keeps every bus event. */
async function runRecorded(document: Record<string, unknown>, dir?: string): Promise<{ report: RunReport; events: BusEvent[] }> {
  const events: BusEvent[] = [];
  const report = await runWorkflow({ name: 'reference', ...document }, { onEvent: (event) => events.push(event), trace: true, ...(dir ? { dir } : {}) });
  return { report, events };
}

describe('server-everything', () => {
  it(
    'passes structured content and text from task to task, in order',
    async () => {
      const { report, events } = await runRecorded({
        servers: { ev: everythingServer() },
        tasks: [
          { id: 'weather', server: 'ev', tool: 'get-structured-content', args: { location: 'Chicago' } },
          // Whole placeholders keep their type: get-sum's schema only takes numbers.
          { id: 'sum', server: 'ev', tool: 'get-sum', args: { a: '{{ tasks.weather.json.temperature }}', b: '{{ tasks.weather.json.humidity }}' } },
          { id: 'say', server: 'ev', tool: 'echo', args: { message: '{{ tasks.weather.json.conditions }}; {{ tasks.sum.text }}' } },
        ],
        output: '{{ tasks.say.text }}',
      });

      expect(report.status).toBe('completed');
      expect(report.error).toBeUndefined();
      const weather = taskOf(report, 'weather').json as { temperature: number; humidity: number; conditions: string };
      expect(typeof weather.temperature).toBe('number');
      expect(typeof weather.humidity).toBe('number');
      const sumText = `The sum of ${weather.temperature} and ${weather.humidity} is ${weather.temperature + weather.humidity}.`;
      expect(report.tasks.map((task) => [task.id, task.status])).toEqual([
        ['weather', 'completed'],
        ['sum', 'completed'],
        ['say', 'completed'],
      ]);
      expect(taskOf(report, 'sum').text).toBe(sumText);
      expect(report.output).toBe(`Echo: ${weather.conditions}; ${sumText}`);

      expect(taskTrail(events)).toEqual([
        'task.started:weather',
        'task.completed:weather',
        'task.started:sum',
        'task.completed:sum',
        'task.started:say',
        'task.completed:say',
      ]);
      const sumStarted = eventsOf(events, 'task.started').find((event) => event.task.id === 'sum');
      expect(sumStarted?.args).toEqual({ a: weather.temperature, b: weather.humidity });
      // Every call went to the real server and came back on the bus, tagged with its task.
      expect(eventsOf(events, 'server.call.result').map((event) => [event.server, event.tool, event.task])).toEqual([
        ['ev', 'get-structured-content', 'weather'],
        ['ev', 'get-sum', 'sum'],
        ['ev', 'echo', 'say'],
      ]);
      expect(events[0]?.type).toBe('run.started');
      expect(events.at(-1)?.type).toBe('run.finished');
    },
    TIMEOUT,
  );

  it(
    'fails the task whose arguments the server rejects, and skips the rest',
    async () => {
      const { report, events } = await runRecorded({
        servers: { ev: everythingServer() },
        tasks: [
          { id: 'ok', server: 'ev', tool: 'echo', args: { message: 'first' } },
          // Templated, so the pre-run schema check lets it through and the server itself rejects it.
          { id: 'bad', server: 'ev', tool: 'get-sum', args: { a: '{{ tasks.ok.text }}', b: 3 } },
          { id: 'never', server: 'ev', tool: 'echo', args: { message: '{{ tasks.bad.text }}' } },
        ],
      });

      expect(report.status).toBe('failed');
      expect(report.error).toMatchObject({ code: 'TOOL_ERROR', task: 'bad', server: 'ev' });
      expect(report.tasks.map((task) => [task.id, task.status])).toEqual([
        ['ok', 'completed'],
        ['bad', 'failed'],
        ['never', 'skipped'],
      ]);
      // The server answered with an isError result (a normal result), not a protocol error.
      const bad = taskOf(report, 'bad');
      expect(bad.isError).toBe(true);
      expect(bad.text).toMatch(/invalid/i);
      expect(eventsOf(events, 'server.call.error')).toEqual([]);
      expect(taskTrail(events)).toEqual(['task.started:ok', 'task.completed:ok', 'task.started:bad', 'task.failed:bad', 'task.skipped:never']);
    },
    TIMEOUT,
  );
});

describe('server-filesystem', () => {
  it(
    'writes a file built from an earlier result, and the file is really on disk',
    async () => {
      const dir = tempDir();
      const { report, events } = await runRecorded(
        {
          // A relative allowed folder resolves against the workflow's folder (`dir`).
          servers: { fs: filesystemServer('./') },
          tasks: [
            { id: 'first', server: 'fs', tool: 'write_file', args: { path: 'first.txt', content: 'alpha' } },
            { id: 'readFirst', server: 'fs', tool: 'read_text_file', args: { path: 'first.txt' } },
            { id: 'second', server: 'fs', tool: 'write_file', args: { path: 'second.txt', content: 'copy of first: {{ tasks.readFirst.text }}' } },
            { id: 'readSecond', server: 'fs', tool: 'read_text_file', args: { path: 'second.txt' } },
          ],
          output: '{{ tasks.readSecond.text }}',
        },
        dir,
      );

      expect(report.status).toBe('completed');
      expect(report.output).toBe('copy of first: alpha');
      expect(readFileSync(join(dir, 'first.txt'), 'utf8')).toBe('alpha');
      expect(readFileSync(join(dir, 'second.txt'), 'utf8')).toBe('copy of first: alpha');
      expect(taskOf(report, 'readFirst').text).toBe('alpha');
      expect(eventsOf(events, 'task.started').find((event) => event.task.id === 'second')?.args).toEqual({
        path: 'second.txt',
        content: 'copy of first: alpha',
      });
      expect(taskTrail(events)).toEqual([
        'task.started:first',
        'task.completed:first',
        'task.started:readFirst',
        'task.completed:readFirst',
        'task.started:second',
        'task.completed:second',
        'task.started:readSecond',
        'task.completed:readSecond',
      ]);
    },
    TIMEOUT,
  );

  it(
    'overwrites a file left by an earlier run',
    async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'note.txt'), 'stale');
      const { report } = await runRecorded({
        servers: { fs: filesystemServer(dir) },
        tasks: [
          { id: 'write', server: 'fs', tool: 'write_file', args: { path: 'note.txt', content: 'fresh' } },
          { id: 'read', server: 'fs', tool: 'read_text_file', args: { path: 'note.txt' } },
        ],
        output: '{{ tasks.read.text }}',
      });

      expect(report.status).toBe('completed');
      expect(report.output).toBe('fresh');
      expect(readFileSync(join(dir, 'note.txt'), 'utf8')).toBe('fresh');
    },
    TIMEOUT,
  );

  it(
    'fails a write outside the allowed folder without touching the disk',
    async () => {
      const allowed = tempDir();
      const outside = join(tempDir(), 'escaped.txt');
      const { report } = await runRecorded({
        servers: { fs: filesystemServer(allowed) },
        tasks: [{ id: 'escape', server: 'fs', tool: 'write_file', args: { path: outside, content: 'nope' } }],
      });

      expect(report.status).toBe('failed');
      expect(report.error).toMatchObject({ code: 'TOOL_ERROR', task: 'escape', server: 'fs' });
      expect(taskOf(report, 'escape')).toMatchObject({ status: 'failed', isError: true });
      expect(taskOf(report, 'escape').text).toMatch(/access denied/i);
      expect(existsSync(outside)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    'reports a server that cannot start because its allowed folder does not exist',
    async () => {
      const missing = join(tempDir(), 'not-there');
      const { report, events } = await runRecorded({
        servers: { fs: filesystemServer(missing) },
        tasks: [{ id: 'list', server: 'fs', tool: 'list_allowed_directories' }],
      });

      expect(report.status).toBe('failed');
      expect(report.error?.code).toBe('SERVER_START_FAILED');
      expect(report.error?.server).toBe('fs');
      // The server's own explanation (from its stderr) reaches the user.
      expect(report.error?.message).toMatch(/None of the specified directories are accessible/);
      expect(eventsOf(events, 'task.started')).toEqual([]);
    },
    TIMEOUT,
  );
});

describe('three servers in one run', () => {
  it(
    'chains the fixture, server-everything and server-filesystem through results and the disk',
    async () => {
      const dir = tempDir();
      const { report, events } = await runRecorded({
        servers: {
          fx: { ...fixtureServer(), cwd: dir },
          ev: everythingServer(),
          fs: filesystemServer(dir),
        },
        tasks: [
          { id: 'add', server: 'fx', tool: 'add', args: { a: 2, b: 3 } },
          { id: 'total', server: 'ev', tool: 'get-sum', args: { a: '{{ tasks.add.json.sum }}', b: 10 } },
          { id: 'save', server: 'fs', tool: 'write_file', args: { path: 'report.txt', content: 'fixture said {{ tasks.add.json.sum }}; everything said: {{ tasks.total.text }}' } },
          // The fixture reads, from its own cwd, what the filesystem server wrote.
          { id: 'readBack', server: 'fx', tool: 'read_file', args: { path: 'report.txt' } },
        ],
        output: '{{ tasks.readBack.text }}',
      });

      const expected = 'fixture said 5; everything said: The sum of 5 and 10 is 15.';
      expect(report.status).toBe('completed');
      expect(report.output).toBe(expected);
      expect(readFileSync(join(dir, 'report.txt'), 'utf8')).toBe(expected);
      expect(report.tasks.map((task) => [task.id, task.server, task.status])).toEqual([
        ['add', 'fx', 'completed'],
        ['total', 'ev', 'completed'],
        ['save', 'fs', 'completed'],
        ['readBack', 'fx', 'completed'],
      ]);
      expect(taskTrail(events)).toEqual([
        'task.started:add',
        'task.completed:add',
        'task.started:total',
        'task.completed:total',
        'task.started:save',
        'task.completed:save',
        'task.started:readBack',
        'task.completed:readBack',
      ]);
      expect(eventsOf(events, 'server.call.result').map((event) => event.server)).toEqual(['fx', 'ev', 'fs', 'fx']);

      // Every server was ready before the first task, and closed before the run finished.
      const firstTask = events.findIndex((event) => event.type === 'task.started');
      const finished = events.findIndex((event) => event.type === 'run.finished');
      for (const name of ['fx', 'ev', 'fs']) {
        const states = eventsOf(events, 'server.state').filter((event) => event.server === name);
        const ready = events.findIndex((event) => event.type === 'server.state' && event.server === name && event.state === 'serving');
        const closed = events.findIndex((event) => event.type === 'server.state' && event.server === name && event.state === 'closed');
        expect(ready, `${name} ready`).toBeGreaterThanOrEqual(0);
        expect(ready, `${name} ready before the first task`).toBeLessThan(firstTask);
        expect(closed, `${name} closed before run.finished`).toBeGreaterThan(firstTask);
        expect(closed).toBeLessThan(finished);
        expect(typeof states.find((event) => event.state === 'serving')?.pid).toBe('number');
      }
    },
    TIMEOUT,
  );
});

describe('resources in Get Context', () => {
  it(
    'fills args from the fixture’s JSON resource',
    async () => {
      const { report, events } = await runRecorded({
        servers: { fx: fixtureServer() },
        tasks: [
          {
            id: 'bump',
            server: 'fx',
            tool: 'add',
            context: [{ server: 'fx', uri: 'fixture://config' }],
            args: { a: '{{ context.0.json.level }}', b: 4 },
          },
          {
            id: 'describe',
            server: 'fx',
            tool: 'echo',
            context: [{ server: 'fx', uri: 'fixture://config' }],
            args: { text: 'mode {{ context.0.json.mode }}, level+4 = {{ tasks.bump.json.sum }}, raw {{ context.0.text }}' },
          },
        ],
        output: '{{ tasks.describe.text }}',
      });

      expect(report.status).toBe('completed');
      expect(taskOf(report, 'bump').json).toEqual({ sum: 7 });
      expect(report.output).toBe('mode test, level+4 = 7, raw {"mode":"test","level":3}');
      expect(eventsOf(events, 'task.started').find((event) => event.task.id === 'bump')?.args).toEqual({ a: 3, b: 4 });
      expect(taskTrail(events)).toEqual([
        'task.context:bump',
        'task.started:bump',
        'task.completed:bump',
        'task.context:describe',
        'task.started:describe',
        'task.completed:describe',
      ]);
      expect(eventsOf(events, 'task.context').map((event) => event.resources)).toEqual([['fixture://config'], ['fixture://config']]);
    },
    TIMEOUT,
  );

  it(
    'reads resources from two servers, in the declared order, before the call',
    async () => {
      const { report, events } = await runRecorded({
        servers: { ev: everythingServer(), fx: fixtureServer() },
        tasks: [
          {
            id: 'say',
            server: 'ev',
            tool: 'echo',
            context: [
              { server: 'ev', uri: 'demo://resource/dynamic/text/7' },
              { server: 'fx', uri: 'fixture://config' },
              { server: 'ev', uri: 'demo://resource/static/document/architecture.md' },
            ],
            args: { message: '{{ context.0.text }} | level {{ context.1.json.level }}' },
          },
        ],
      });

      expect(report.status).toBe('completed');
      expect(report.output).toMatch(/^Echo: Resource 7: This is a plaintext resource.* \| level 3$/);
      const reads = eventsOf(events, 'server.call.result').filter((event) => event.tool.startsWith('resources/read'));
      expect(reads.map((event) => [event.server, event.tool, event.task])).toEqual([
        ['ev', 'resources/read demo://resource/dynamic/text/7', 'say'],
        ['fx', 'resources/read fixture://config', 'say'],
        ['ev', 'resources/read demo://resource/static/document/architecture.md', 'say'],
      ]);
      expect(reads[2]?.result.text).toMatch(/^# Everything Server/);
      // Every read finished before the tool was called.
      const started = events.findIndex((event) => event.type === 'task.started');
      const lastRead = events.lastIndexOf(reads[2]!);
      expect(lastRead).toBeLessThan(started);
    },
    TIMEOUT,
  );

  it(
    'fails the task before its call when a resource does not exist',
    async () => {
      const { report, events } = await runRecorded({
        servers: { fx: fixtureServer() },
        tasks: [
          { id: 'read', server: 'fx', tool: 'echo', context: [{ server: 'fx', uri: 'fixture://missing' }], args: { text: '{{ context.0.text }}' } },
          { id: 'after', server: 'fx', tool: 'echo', args: { text: 'never' } },
        ],
      });

      expect(report.status).toBe('failed');
      expect(report.error?.task).toBe('read');
      expect(report.error?.message).toMatch(/fixture:\/\/missing/);
      expect(report.tasks.map((task) => [task.id, task.status])).toEqual([
        ['read', 'failed'],
        ['after', 'skipped'],
      ]);
      expect(taskTrail(events)).toEqual(['task.context:read', 'task.failed:read', 'task.skipped:after']);
    },
    TIMEOUT,
  );
});
