/**
 * The call router on its own, with in-memory sessions whose answers the test
 * controls: no processes, no statecharts. Which member a call goes to, what
 * happens to calls on a member that dies, fallback routing with tool and
 * argument mapping, cancels, holds, and the circuit breaker's count.
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorInfo } from '../../src/core/errors.js';
import type { ResourceResult, ToolResult } from '../../src/core/results.js';
import type { ServerReply, ServerReport, ServerRequest } from '../../src/core/server-port.js';
import type { ServerSpec, StdioServerSpec } from '../../src/core/workflow.js';
import { CallRouter, type LifecycleTarget, type Member, type RunScope, type Session } from '../../src/engine/call-router.js';

// ─── Fakes ─────────────────────────────────────────────────────────────────

interface PendingCall {
  tool: string;
  args: Record<string, unknown>;
  options: { timeoutMs: number; signal?: AbortSignal };
  resolve(result: ToolResult): void;
  reject(error: ErrorInfo): void;
}

/** An open MCP session whose every call waits until the test answers it. Like `McpConnection`, an abort rejects with CANCELLED. */
class FakeSession implements Session {
  readonly calls: PendingCall[] = [];
  readonly reads: string[] = [];
  /** When set, calls answer at once (still asynchronously, as a promise does). */
  answer?: (tool: string, args: Record<string, unknown>) => ToolResult;

  constructor(readonly name: string) {}

  callTool(tool: string, args: Record<string, unknown>, options: { timeoutMs: number; signal?: AbortSignal }): Promise<ToolResult> {
    if (this.answer) return Promise.resolve(this.answer(tool, args));
    return new Promise<ToolResult>((resolve, reject) => {
      this.calls.push({ tool, args, options, resolve, reject });
      options.signal?.addEventListener('abort', () => reject({ code: 'CANCELLED', message: `${this.name}: tool ${tool} was cancelled (${String(options.signal!.reason)})`, server: this.name } satisfies ErrorInfo), {
        once: true,
      });
    });
  }

  readResource(uri: string): Promise<ResourceResult> {
    this.reads.push(uri);
    return Promise.resolve({ uri, text: `read ${uri}`, json: undefined });
  }

  /** The one call in flight on this session. */
  only(): PendingCall {
    expect(this.calls).toHaveLength(1);
    return this.calls[0]!;
  }
}

const text = (value: string, isError = false): ToolResult => ({ text: value, json: undefined, isError, content: [{ type: 'text', text: value }] });

const lost = (server: string): ErrorInfo => ({ code: 'SERVER_UNAVAILABLE', message: `server "${server}" went away during the call: process exited with code 1`, server });

/** The replies one requester got, and promises for the ones to come. */
class Requester {
  readonly received: ServerReport[] = [];
  private readonly waiting = new Map<string, (reply: ServerReply) => void>();

  send(event: ServerReport): void {
    this.received.push(event);
    if ('callId' in event) this.waiting.get(event.callId)?.(event);
  }

  /** The one reply to a call, past or future. */
  reply(callId: string): Promise<ServerReply> {
    const seen = this.received.find((event): event is ServerReply => 'callId' in event && event.callId === callId);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiting.set(callId, resolve));
  }

  repliesTo(callId: string): ServerReport[] {
    return this.received.filter((event) => 'callId' in event && event.callId === callId);
  }
}

/**
 * Lets every pending promise callback and microtask run (one turn of the
 * event loop), to check that something did *not* happen. No timer involved:
 * every answer here comes from a promise the test settles.
 */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function stdioSpec(extra: Partial<StdioServerSpec> = {}): StdioServerSpec {
  return { kind: 'stdio', replicas: 1, command: 'unused', args: [], env: {}, cwd: '/', ...extra };
}

interface Harness {
  router: CallRouter;
  requester: Requester;
  scope: RunScope;
  sessions: Map<string, FakeSession>;
  tripped: { member: string; error: ErrorInfo }[];
  /** Adds a pool whose members all serve, each on its own fake session. */
  serve(name: string, spec: ServerSpec): Member[];
  member(id: string): Member;
  session(id: string): FakeSession;
  call(server: string, tool: string, args?: Record<string, unknown>, extra?: Partial<Extract<ServerRequest, { type: 'server.call' }>>): string;
}

let workspace: string;
let h: Harness;

function createHarness(): Harness {
  const router = new CallRouter();
  const requester = new Requester();
  const scope: RunScope = { runId: 't', workspace, timeoutMs: 5000, calls: new Map() };
  const sessions = new Map<string, FakeSession>();
  const tripped: { member: string; error: ErrorInfo }[] = [];
  let nextCall = 0;
  const harness: Harness = {
    router,
    requester,
    scope,
    sessions,
    tripped,
    serve(name, spec) {
      const pool = router.addPool(name, spec);
      for (const member of pool.members) {
        const session = new FakeSession(member.id);
        sessions.set(member.id, session);
        router.attach(member.id, session);
        const lifecycle: LifecycleTarget = { send: (event) => tripped.push({ member: member.id, error: event.error }) };
        router.setLifecycle(member.id, lifecycle);
        router.updateMember(member, { state: 'serving', tools: [{ name: 'echo' }, { name: 'Write' }] });
      }
      return pool.members;
    },
    member(id) {
      const member = router.member(id);
      if (!member) throw new Error(`no member ${id}`);
      return member;
    },
    session(id) {
      const session = sessions.get(id);
      if (!session) throw new Error(`no session for ${id}`);
      return session;
    },
    call(server, tool, args = {}, extra = {}) {
      const callId = `call-${++nextCall}`;
      router.request({ type: 'server.call', server, callId, tool, args, ...extra }, requester, scope);
      return callId;
    },
  };
  return harness;
}

beforeEach(() => {
  workspace = realpathSync(mkdtempSync(join(tmpdir(), 'ensemble-router-')));
  h = createHarness();
});

afterEach(() => {
  rmSync(workspace, { recursive: true, force: true });
});

// ─── Routing ───────────────────────────────────────────────────────────────

describe('replica choice', () => {
  it('sends each call to the least busy serving member', async () => {
    h.serve('fx', stdioSpec({ replicas: 3 }));
    const first = [h.call('fx', 'echo'), h.call('fx', 'echo'), h.call('fx', 'echo')];
    // One each: every member was idle when its call came.
    for (const id of ['fx#1', 'fx#2', 'fx#3']) expect(h.session(id).calls).toHaveLength(1);
    expect(h.router.pool('fx')!.members.map((member) => member.inFlight)).toEqual([1, 1, 1]);

    h.session('fx#3').only().resolve(text('three'));
    expect(await h.requester.reply(first[2]!)).toMatchObject({ type: 'server.result', callId: first[2], result: { text: 'three' } });
    expect(h.member('fx#3').inFlight).toBe(0);

    // fx#3 is the only idle one now, though it comes last.
    h.call('fx', 'echo');
    expect(h.router.pool('fx')!.members.map((member) => h.session(member.id).calls.length)).toEqual([1, 1, 2]);

    // All equally busy: the first one takes it; then fx#2 (one in flight) beats fx#1 (two).
    h.call('fx', 'echo');
    h.call('fx', 'echo');
    expect(h.router.pool('fx')!.members.map((member) => h.session(member.id).calls.length)).toEqual([2, 2, 2]);
    expect(h.router.pool('fx')!.members.map((member) => member.inFlight)).toEqual([2, 2, 1]);
  });

  it('sends no call to a member reported unavailable, and calls it again once it serves', async () => {
    h.serve('fx', stdioSpec({ replicas: 2 }));
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: lost('fx') });

    const ids = [h.call('fx', 'echo'), h.call('fx', 'echo'), h.call('fx', 'echo')];
    expect(h.session('fx#1').calls).toHaveLength(0);
    expect(h.session('fx#2').calls).toHaveLength(3);
    for (const pending of h.session('fx#2').calls) pending.resolve(text('ok'));
    for (const id of ids) expect(await h.requester.reply(id)).toMatchObject({ type: 'server.result' });

    h.router.updateMember(h.member('fx#1'), { state: 'serving' });
    h.call('fx', 'echo');
    expect(h.session('fx#1').calls).toHaveLength(1);
  });

  it('sends no call to a serving member whose session is detached', () => {
    h.serve('fx', stdioSpec({ replicas: 2 }));
    h.router.detach('fx#1', h.session('fx#1'));
    h.call('fx', 'echo');
    h.call('fx', 'echo');
    expect(h.session('fx#1').calls).toHaveLength(0);
    expect(h.session('fx#2').calls).toHaveLength(2);
  });

  it('passes the timeout (call, then server, then run) and an abort signal to the session', () => {
    h.serve('fx', stdioSpec({ timeoutMs: 700 }));
    h.serve('plain', stdioSpec());
    h.call('fx', 'echo', { text: 'a' }, { timeoutMs: 30 });
    h.call('fx', 'echo', { text: 'b' });
    h.call('plain', 'echo', { text: 'c' });
    const [withCallTimeout, withServerTimeout] = h.session('fx#1').calls;
    expect(withCallTimeout).toMatchObject({ tool: 'echo', args: { text: 'a' }, options: { timeoutMs: 30 } });
    expect(withServerTimeout!.options.timeoutMs).toBe(700);
    expect(h.session('plain#1').only().options.timeoutMs).toBe(5000);
    expect(withCallTimeout!.options.signal?.aborted).toBe(false);
  });

  it('answers a read with server.resource', async () => {
    h.serve('fx', stdioSpec());
    h.router.request({ type: 'server.read', server: 'fx', callId: 'read-1', uri: 'fixture://config' }, h.requester, h.scope);
    expect(await h.requester.reply('read-1')).toMatchObject({ type: 'server.resource', callId: 'read-1', resource: { uri: 'fixture://config', text: 'read fixture://config' } });
    expect(h.session('fx#1').reads).toEqual(['fixture://config']);
  });

  it('refuses a call to a server it has no pool for', async () => {
    const id = h.call('nowhere', 'echo');
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', refused: true, error: { code: 'SERVER_UNAVAILABLE', message: 'no server "nowhere" in the directory' } });
  });

  it('refuses a call at once, with the cause, when no member serves and none may recover', async () => {
    h.serve('fx', stdioSpec());
    const cause: ErrorInfo = { code: 'SERVER_START_FAILED', message: 'server "fx" failed to start: boom', server: 'fx' };
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: cause, final: true });
    const id = h.call('fx', 'echo');
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', refused: true, error: cause });
    expect(h.session('fx#1').calls).toHaveLength(0);
  });
});

// ─── A member that dies ────────────────────────────────────────────────────

describe('a call in flight on a member that dies', () => {
  it('is retried on another serving member when the call is idempotent', async () => {
    h.serve('fx', stdioSpec({ replicas: 2 }));
    const id = h.call('fx', 'echo', { text: 'again' }, { idempotent: true });
    h.session('fx#1').only().reject(lost('fx'));

    await expect.poll(() => h.session('fx#2').calls.length).toBe(1);
    expect(h.session('fx#2').only()).toMatchObject({ tool: 'echo', args: { text: 'again' } });
    // The dead member is out of rotation until its lifecycle says it serves again.
    expect(h.member('fx#1').state).toBe('unavailable');
    h.session('fx#2').only().resolve(text('again'));
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.result', result: { text: 'again' } });
    expect(h.requester.repliesTo(id)).toHaveLength(1);
  });

  it('is retried when its tool is in the server\'s idempotentTools', async () => {
    h.serve('fx', stdioSpec({ replicas: 2, idempotentTools: ['echo'] }));
    const id = h.call('fx', 'echo');
    h.session('fx#1').only().reject(lost('fx'));
    await expect.poll(() => h.session('fx#2').calls.length).toBe(1);
    h.session('fx#2').only().resolve(text('ok'));
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.result', result: { text: 'ok' } });
  });

  it('fails, saying why it was not retried, when it is not idempotent and the pool has other members', async () => {
    h.serve('fx', stdioSpec({ replicas: 2 }));
    const id = h.call('fx', 'Write', { file_path: 'a.md', content: 'x' });
    h.session('fx#1').only().reject(lost('fx'));

    const reply = await h.requester.reply(id);
    expect(reply).toMatchObject({ type: 'server.failed', error: { code: 'SERVER_UNAVAILABLE' } });
    expect(reply.type === 'server.failed' && reply.refused).toBeFalsy();
    expect((reply as Extract<ServerReply, { type: 'server.failed' }>).error.message).toMatch(/went away during the call: process exited with code 1 \(not retried on a fallback: the task is not marked idempotent\)$/);
    expect(h.session('fx#2').calls).toHaveLength(0);
  });

  it('fails with the plain cause when it is not idempotent and nothing else could have served it', async () => {
    h.serve('fx', stdioSpec());
    const id = h.call('fx', 'Write', { file_path: 'a.md', content: 'x' });
    h.session('fx#1').only().reject(lost('fx'));
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', error: lost('fx') });
  });

  it('fails when idempotent but the member that died was the only one that serves and none may recover', async () => {
    h.serve('fx', stdioSpec({ replicas: 2 }));
    h.router.updateMember(h.member('fx#2'), { state: 'unavailable', error: lost('fx'), final: true });
    const id = h.call('fx', 'echo', {}, { idempotent: true });
    h.session('fx#1').only().reject(lost('fx'));
    // The lifecycle then reports it down for good.
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: lost('fx'), final: true });
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', error: { code: 'SERVER_UNAVAILABLE' } });
  });

  // Regression: the held call kept the dead member in `tried`, so once it served again the call was refused.
  it('an idempotent call held while its only member restarts runs on the restored member', async () => {
    h.serve('fx', stdioSpec({ recovery: { initialDelayMs: 10, maxDelayMs: 10, factor: 1 } }));
    const id = h.call('fx', 'echo', { text: 'again' }, { idempotent: true });
    h.session('fx#1').only().reject(lost('fx'));
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: lost('fx') });
    await flush();
    expect(h.requester.repliesTo(id)).toEqual([]);

    const restarted = new FakeSession('fx#1 (restarted)');
    h.router.attach('fx#1', restarted);
    h.router.updateMember(h.member('fx#1'), { state: 'serving' });
    await flush();
    expect(h.requester.repliesTo(id)).toEqual([]);
    expect(restarted.only()).toMatchObject({ tool: 'echo', args: { text: 'again' } });
  });
});

// ─── Fallbacks ─────────────────────────────────────────────────────────────

describe('fallback routing', () => {
  const withBackup = (): ServerSpec =>
    stdioSpec({ fallback: [{ kind: 'server', server: 'backup', tools: { Write: { tool: 'write_file', args: { path: '{{ args.file_path }}', content: '{{ args.content }}' } } } }] });

  beforeEach(() => {
    h.serve('fx', withBackup());
    h.serve('backup', stdioSpec());
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: lost('fx'), final: true });
  });

  it('maps the tool and its arguments to the backup, and says it served the call', async () => {
    const id = h.call('fx', 'Write', { file_path: 'notes/a.md', content: 'hello' });
    expect(h.session('backup#1').only()).toMatchObject({ tool: 'write_file', args: { path: 'notes/a.md', content: 'hello' } });
    expect(h.session('fx#1').calls).toHaveLength(0);
    h.session('backup#1').only().resolve(text('wrote notes/a.md'));
    expect(await h.requester.reply(id)).toEqual(expect.objectContaining({ type: 'server.result', server: 'fx', callId: id, servedBy: 'backup', result: expect.objectContaining({ text: 'wrote notes/a.md' }) }));
  });

  it('gives a TEMPLATE error, refused, when a mapping reads an argument the call lacks', async () => {
    const id = h.call('fx', 'Write', { content: 'no path' });
    const reply = await h.requester.reply(id);
    expect(reply).toMatchObject({ type: 'server.failed', refused: true, error: { code: 'TEMPLATE', server: 'backup' } });
    expect((reply as Extract<ServerReply, { type: 'server.failed' }>).error.message).toContain('args.file_path');
    expect(h.session('backup#1').calls).toHaveLength(0);
  });

  it('refuses a tool no fallback maps, naming the tool and the cause', async () => {
    const id = h.call('fx', 'echo', { text: 'x' });
    const reply = await h.requester.reply(id);
    expect(reply).toMatchObject({ type: 'server.failed', refused: true, error: { code: 'SERVER_UNAVAILABLE' } });
    expect((reply as Extract<ServerReply, { type: 'server.failed' }>).error.message).toBe(`server "fx" is unavailable (${lost('fx').message}) and no fallback serves its tool "echo"`);
  });

  it('refuses a mapped tool when the backup does not serve either', async () => {
    h.router.updateMember(h.member('backup#1'), { state: 'unavailable', error: lost('backup'), final: true });
    const id = h.call('fx', 'Write', { file_path: 'a.md', content: 'x' });
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', refused: true, error: { code: 'SERVER_UNAVAILABLE' } });
  });

  it('sends no read to a fallback: the server answers its resources itself', async () => {
    h.router.request({ type: 'server.read', server: 'fx', callId: 'read-1', uri: 'fixture://config' }, h.requester, h.scope);
    expect(await h.requester.reply('read-1')).toMatchObject({ type: 'server.failed', refused: true, error: lost('fx') });
    expect(h.session('backup#1').reads).toEqual([]);
  });

  it('lists what the server still serves through its fallback', () => {
    expect(h.router.listServedTools(h.router.pool('fx')!)).toEqual({ tools: [{ name: 'Write' }], servedBy: ['backup'] });
  });

  it('retries an idempotent call on the backup when the primary dies mid-call', async () => {
    h.router.updateMember(h.member('fx#1'), { state: 'serving' });
    const id = h.call('fx', 'Write', { file_path: 'b.md', content: 'bee' }, { idempotent: true });
    h.session('fx#1').only().reject(lost('fx'));
    await expect.poll(() => h.session('backup#1').calls.length).toBe(1);
    expect(h.session('backup#1').only()).toMatchObject({ tool: 'write_file', args: { path: 'b.md', content: 'bee' } });
    h.session('backup#1').only().resolve(text('wrote b.md'));
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.result', servedBy: 'backup' });
  });

  it('trips the primary at its first timeout when it has a fallback, and fails the call saying it was not retried', async () => {
    h.router.updateMember(h.member('fx#1'), { state: 'serving' });
    const id = h.call('fx', 'Write', { file_path: 'c.md', content: 'x' });
    const timeout: ErrorInfo = { code: 'CALL_TIMEOUT', message: 'server "fx": tool Write timed out after 100 ms', server: 'fx' };
    h.session('fx#1').only().reject(timeout);
    const reply = await h.requester.reply(id);
    expect(reply).toMatchObject({ type: 'server.failed', error: { code: 'CALL_TIMEOUT', message: `${timeout.message} (not retried on a fallback: the task is not marked idempotent)` } });
    expect(h.tripped).toEqual([{ member: 'fx#1', error: timeout }]);
    expect(h.member('fx#1').state).toBe('unavailable');
  });

  it('serves a call from the built-in files, confined to the run workspace', async () => {
    const router = h.router;
    const pool = router.addPool('docs', stdioSpec({ fallback: [{ kind: 'builtin', builtin: 'files', tools: {} }] }));
    router.updateMember(pool.members[0]!, { state: 'unavailable', error: lost('docs'), final: true });
    const id = h.call('docs', 'Write', { file_path: 'out/r.md', content: 'hi' });
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.result', server: 'docs', servedBy: 'builtin:files', result: { isError: false, text: 'wrote out/r.md (2 bytes)' } });
    expect(readFileSync(join(workspace, 'out', 'r.md'), 'utf8')).toBe('hi');
  });
});

// ─── Holds and cancels ─────────────────────────────────────────────────────

describe('holding a call while a member recovers', () => {
  const recovering = () => {
    h.serve('fx', stdioSpec({ recovery: { initialDelayMs: 10, maxDelayMs: 10, factor: 1 } }));
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: lost('fx') });
  };

  it('holds the call, then sends it to the member once it serves again', async () => {
    recovering();
    const id = h.call('fx', 'echo', { text: 'held' });
    h.router.updateMember(h.member('fx#1'), { state: 'recovering' });
    h.router.updateMember(h.member('fx#1'), { state: 'probing' });
    await flush();
    expect(h.requester.repliesTo(id)).toEqual([]);
    expect(h.router.pool('fx')!.held).toHaveLength(1);

    const restarted = new FakeSession('fx#1 (restarted)');
    h.router.attach('fx#1', restarted);
    h.router.updateMember(h.member('fx#1'), { state: 'serving' });
    expect(restarted.only()).toMatchObject({ tool: 'echo', args: { text: 'held' } });
    expect(h.router.pool('fx')!.held).toEqual([]);
    restarted.only().resolve(text('held'));
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.result', result: { text: 'held' } });
  });

  it('fails a held call with the cause once the member is down for good', async () => {
    recovering();
    const id = h.call('fx', 'echo');
    const cause: ErrorInfo = { code: 'SERVER_START_FAILED', message: 'server "fx" failed to start: exit 3', server: 'fx' };
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: cause, final: true });
    expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', refused: true, error: cause });
  });

  it('fails a held call after its timeout, saying how long it waited', async () => {
    recovering();
    const id = h.call('fx', 'echo', {}, { timeoutMs: 20 });
    const reply = await h.requester.reply(id);
    expect(reply).toMatchObject({ type: 'server.failed', refused: true, error: { code: 'SERVER_UNAVAILABLE' } });
    expect((reply as Extract<ServerReply, { type: 'server.failed' }>).error.message).toBe(`server "fx" has no live replica (${lost('fx').message}); the call waited 20 ms for one to recover`);
    expect(h.router.pool('fx')!.held).toEqual([]);
  });

  it('replies CANCELLED to a cancel of a held call, and never sends it later', async () => {
    recovering();
    const id = h.call('fx', 'echo');
    h.router.request({ type: 'server.cancel', server: 'fx', callId: id, reason: 'the run stopped' }, h.requester, h.scope);
    const reply = await h.requester.reply(id);
    expect(reply).toMatchObject({ type: 'server.failed', callId: id, refused: true, error: { code: 'CANCELLED' } });
    expect((reply as Extract<ServerReply, { type: 'server.failed' }>).error.message).toContain('the run stopped');
    expect(h.router.pool('fx')!.held).toEqual([]);
    expect(h.scope.calls.size).toBe(0);

    h.router.updateMember(h.member('fx#1'), { state: 'serving' });
    expect(h.session('fx#1').calls).toHaveLength(0);
    await flush();
    expect(h.requester.repliesTo(id)).toHaveLength(1);
  });

  // Regression: cancel() aborted the controller of the first, already failed attempt, and no reply ever came.
  it('replies CANCELLED to a cancel of an idempotent call held after its member died mid-call', async () => {
    h.serve('fx', stdioSpec({ recovery: { initialDelayMs: 10, maxDelayMs: 10, factor: 1 } }));
    const id = h.call('fx', 'echo', {}, { idempotent: true });
    h.session('fx#1').only().reject(lost('fx'));
    await expect.poll(() => h.router.pool('fx')!.held.length).toBe(1);
    h.router.request({ type: 'server.cancel', server: 'fx', callId: id, reason: 'the run stopped' }, h.requester, h.scope);
    await flush();
    expect(h.requester.repliesTo(id)).toEqual([expect.objectContaining({ type: 'server.failed', error: expect.objectContaining({ code: 'CANCELLED' }) })]);
  });
});

describe('cancel', () => {
  it('aborts the signal of a call in flight and replies CANCELLED', async () => {
    h.serve('fx', stdioSpec());
    const id = h.call('fx', 'echo');
    const pending = h.session('fx#1').only();
    h.router.request({ type: 'server.cancel', server: 'fx', callId: id, reason: 'user stop' }, h.requester, h.scope);
    expect(pending.options.signal?.aborted).toBe(true);
    expect(pending.options.signal?.reason).toBe('user stop');
    const reply = await h.requester.reply(id);
    expect(reply).toMatchObject({ type: 'server.failed', callId: id, error: { code: 'CANCELLED' } });
    expect((reply as Extract<ServerReply, { type: 'server.failed' }>).error.message).toContain('user stop');
    // A cancel does not count against the server.
    expect(h.member('fx#1')).toMatchObject({ failedCalls: 0, state: 'serving', inFlight: 0 });
    // A late answer from the session changes nothing.
    pending.resolve(text('late'));
    await flush();
    expect(h.requester.repliesTo(id)).toHaveLength(1);
  });

  it('ignores a cancel of a call that already has its reply, or that it does not know', async () => {
    h.serve('fx', stdioSpec());
    const id = h.call('fx', 'echo');
    h.session('fx#1').only().resolve(text('done'));
    await h.requester.reply(id);
    h.router.request({ type: 'server.cancel', server: 'fx', callId: id, reason: 'too late' }, h.requester, h.scope);
    h.router.request({ type: 'server.cancel', server: 'fx', callId: 'never-made', reason: 'what' }, h.requester, h.scope);
    await flush();
    expect(h.requester.received).toHaveLength(1);
  });

  it('abandon() cancels every call a run still has open', async () => {
    h.serve('fx', stdioSpec({ replicas: 2 }));
    const ids = [h.call('fx', 'echo'), h.call('fx', 'echo')];
    h.router.abandon(h.scope, 'the run ended');
    for (const id of ids) expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', error: { code: 'CANCELLED' } });
    expect(h.scope.calls.size).toBe(0);
  });
});

// ─── Circuit breaker ───────────────────────────────────────────────────────

describe('circuit breaker', () => {
  const failed: ErrorInfo = { code: 'CALL_FAILED', message: 'server "fx": tool echo failed: bad gateway', server: 'fx' };
  const timedOut: ErrorInfo = { code: 'CALL_TIMEOUT', message: 'server "fx": tool echo timed out after 50 ms', server: 'fx' };

  it('trips after failureThreshold CALL_FAILED / CALL_TIMEOUT in a row and tells the lifecycle', async () => {
    h.serve('fx', stdioSpec({ circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 1000 } }));
    const ids = [h.call('fx', 'echo'), h.call('fx', 'echo'), h.call('fx', 'echo')];
    const [a, b, c] = h.session('fx#1').calls;
    a!.reject(failed);
    b!.reject(timedOut);
    expect(await h.requester.reply(ids[0]!)).toMatchObject({ type: 'server.failed', error: failed });
    expect(await h.requester.reply(ids[1]!)).toMatchObject({ type: 'server.failed', error: timedOut });
    expect(h.tripped).toEqual([]);
    expect(h.member('fx#1')).toMatchObject({ state: 'serving', failedCalls: 2 });

    c!.reject(failed);
    expect(await h.requester.reply(ids[2]!)).toMatchObject({ type: 'server.failed', error: failed });
    expect(h.tripped).toHaveLength(1);
    expect(h.tripped[0]).toEqual({
      member: 'fx#1',
      error: { code: 'CIRCUIT_OPEN', message: `server "fx": circuit opened after 3 failed calls in a row; last: ${failed.message}`, server: 'fx', cause: failed.message },
    });
    expect(h.member('fx#1')).toMatchObject({ state: 'unavailable', error: { code: 'CIRCUIT_OPEN' } });

    // Open: no call reaches the member; a call is held while it may recover.
    h.call('fx', 'echo');
    expect(h.session('fx#1').calls).toHaveLength(3);
    expect(h.router.pool('fx')!.held).toHaveLength(1);
  });

  it('counts only failures in a row: a result (isError included) resets the count', async () => {
    h.serve('fx', stdioSpec({ circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 1000 } }));
    const session = h.session('fx#1');
    const first = h.call('fx', 'echo');
    session.calls[0]!.reject(failed);
    await h.requester.reply(first);
    const second = h.call('fx', 'echo');
    session.calls[1]!.resolve(text('tool said no', true));
    expect(await h.requester.reply(second)).toMatchObject({ type: 'server.result', result: { isError: true } });
    expect(h.member('fx#1').failedCalls).toBe(0);
    const third = h.call('fx', 'echo');
    session.calls[2]!.reject(timedOut);
    await h.requester.reply(third);
    expect(h.tripped).toEqual([]);
    expect(h.member('fx#1')).toMatchObject({ state: 'serving', failedCalls: 1 });
  });

  it('never trips on isError results or cancels', async () => {
    h.serve('fx', stdioSpec({ circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 1000 } }));
    h.session('fx#1').answer = () => text('fixture failure', true);
    for (let i = 0; i < 3; i++) expect(await h.requester.reply(h.call('fx', 'fail'))).toMatchObject({ type: 'server.result', result: { isError: true } });
    h.session('fx#1').answer = undefined;
    const id = h.call('fx', 'hang');
    h.router.request({ type: 'server.cancel', server: 'fx', callId: id, reason: 'stop' }, h.requester, h.scope);
    expect(await h.requester.reply(id)).toMatchObject({ error: { code: 'CANCELLED' } });
    expect(h.tripped).toEqual([]);
    expect(h.member('fx#1').state).toBe('serving');
  });

  it('without a breaker, a timeout is only that call\'s failure', async () => {
    h.serve('fx', stdioSpec());
    const ids = Array.from({ length: 4 }, () => h.call('fx', 'echo'));
    for (const pending of h.session('fx#1').calls) pending.reject(timedOut);
    for (const id of ids) expect(await h.requester.reply(id)).toMatchObject({ type: 'server.failed', error: { code: 'CALL_TIMEOUT' } });
    expect(h.tripped).toEqual([]);
    expect(h.member('fx#1').state).toBe('serving');
  });

  it('starts counting afresh once the member serves again', async () => {
    h.serve('fx', stdioSpec({ circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 1000 } }));
    const first = h.call('fx', 'echo');
    h.session('fx#1').only().reject(failed);
    await h.requester.reply(first);
    expect(h.member('fx#1').failedCalls).toBe(1);
    h.router.updateMember(h.member('fx#1'), { state: 'probing' });
    h.router.updateMember(h.member('fx#1'), { state: 'serving' });
    expect(h.member('fx#1').failedCalls).toBe(0);
  });
});

// ─── Asynchrony ────────────────────────────────────────────────────────────

describe('replies are never synchronous', () => {
  it('not for results, refusals, template errors, cancels or built-in files', async () => {
    h.serve('fx', stdioSpec({ replicas: 1 }));
    h.session('fx#1').answer = (_tool, args) => text(String(args.text));
    h.serve('down', stdioSpec({ fallback: [{ kind: 'server', server: 'fx', tools: { Write: { tool: 'echo', args: { text: '{{ args.missing }}' } } } }, { kind: 'builtin', builtin: 'files', tools: {} }] }));
    h.router.updateMember(h.member('down#1'), { state: 'unavailable', error: lost('down'), final: true });

    const requests: [string, () => string][] = [
      ['result', () => h.call('fx', 'echo', { text: 'now' })],
      ['refused: no pool', () => h.call('nowhere', 'echo')],
      ['refused: down', () => h.call('down', 'echo')],
      ['template error', () => h.call('down', 'Write', { file_path: 'x' })],
      ['built-in files', () => h.call('down', 'read_file', { path: 'nothing.md' })],
    ];
    const ids: string[] = [];
    for (const [what, request] of requests) {
      const before = h.requester.received.length;
      ids.push(request());
      expect(h.requester.received.length, what).toBe(before);
    }
    // A cancel of a call in flight, and of a held one.
    h.session('fx#1').answer = undefined;
    const inFlight = h.call('fx', 'echo');
    const before = h.requester.received.length;
    h.router.request({ type: 'server.cancel', server: 'fx', callId: inFlight, reason: 'stop' }, h.requester, h.scope);
    expect(h.requester.received.length).toBe(before);

    const replies = await Promise.all([...ids, inFlight].map((id) => h.requester.reply(id)));
    expect(replies.map((reply) => reply.type)).toEqual(['server.result', 'server.failed', 'server.failed', 'server.failed', 'server.result', 'server.failed']);
    expect(replies[3]).toMatchObject({ error: { code: 'TEMPLATE' } });
    expect(replies[4]).toMatchObject({ servedBy: 'builtin:files', result: { isError: true } });
  });

  it('not for a cancel of a held call', async () => {
    h.serve('fx', stdioSpec({ recovery: { initialDelayMs: 10, maxDelayMs: 10, factor: 1 } }));
    h.router.updateMember(h.member('fx#1'), { state: 'unavailable', error: lost('fx') });
    const id = h.call('fx', 'echo');
    h.router.request({ type: 'server.cancel', server: 'fx', callId: id, reason: 'stop' }, h.requester, h.scope);
    expect(h.requester.received).toEqual([]);
    expect(await h.requester.reply(id)).toMatchObject({ error: { code: 'CANCELLED' } });
  });
});
