/**
 * The server directory: one long-lived actor (system id `servers`) that owns
 * every server member (one lifecycle machine per process or HTTP session,
 * keyed `name#replica`) and, for each server with a fallback chain, its
 * degradation machine. It outlives runs: runs address servers by name
 * through it and hold no actor refs.
 *
 *   open ── directory.add ─► spawn members and degradation machines
 *        ── member.state ──► keep the member's summary, tell the engine, feed the degradation machines
 *        ── directory.close ─► closed (final: every member is stopped, its process ended)
 *
 * Its context is plain data: a summary of every member, and which
 * degradation machine watches which server.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { ErrorInfo } from '../src/core/errors.js';
import { getOwn } from '../src/core/own.js';
import { toMemberId, type ServerLifecycle, type ServerMemberInput } from '../src/core/server-port.js';
import type { ServerSpec } from '../src/core/workflow.js';
import { degradationMachine, type DegradationEvent, type DegradationInput, type DegradationNotice } from './degradation.machine.js';
import { serverMachine, type MemberStateReport } from './server.machine.js';

export interface MemberSummary {
  server: string;
  replica: number;
  state: ServerLifecycle;
  error?: ErrorInfo;
  pid?: number;
}

/** Who watches a server's membership: a degradation machine, as its primary or as one of its fallback steps. */
export interface Watcher {
  degradation: string;
  role: 'primary' | number;
}

export interface DirectoryContext {
  members: Record<string, MemberSummary>;
  /** Degradation machines to tell about each server, by server name. */
  watchers: Record<string, Watcher[]>;
}

/** A server to add: its spec decides how many members (replicas) it gets. */
export interface DirectoryServer {
  name: string;
  spec: ServerSpec;
  /** Default per-call timeout of its members' probes. */
  timeoutMs: number;
}

export type DirectoryEvent =
  | { type: 'directory.add'; servers: DirectoryServer[] }
  | MemberStateReport
  | DegradationNotice
  | { type: 'directory.close' };

export const degradationId = (server: string) => `degradation:${server}`;
export const memberSystemId = (member: string) => `server:${member}`;

/** The pool-level event a member's change means for one watcher, if any. */
function toDegradationEvent(context: DirectoryContext, report: MemberStateReport, role: Watcher['role']): DegradationEvent | undefined {
  const poolServes = Object.values(context.members).some((member) => member.server === report.server && member.state === 'serving');
  if (role === 'primary') {
    if (report.state === 'serving') return { type: 'primary.serving', tools: report.tools ?? [] };
    if (report.state === 'recovering') return { type: 'primary.recovering', attempt: report.attempt ?? 1 };
    if (report.state === 'unavailable' && !poolServes) return { type: 'primary.unavailable', error: report.error ?? { code: 'SERVER_UNAVAILABLE', message: `server "${report.server}" is unavailable`, server: report.server } };
    return undefined;
  }
  if (report.state === 'serving') return { type: 'fallback.changed', step: role, serving: true };
  if (report.state === 'unavailable' && !poolServes) return { type: 'fallback.changed', step: role, serving: false };
  return undefined;
}

export const directoryMachine = setup({
  types: {
    context: {} as DirectoryContext,
    events: {} as DirectoryEvent,
  },
  actors: {
    server: serverMachine,
    degradation: degradationMachine,
  },
  actions: {
    // Ports the engine provides: the call router and the bus learn of every change.
    memberChanged: (_, _report: MemberStateReport) => undefined,
    notify: (_, _notice: DegradationNotice) => undefined,
    addServers: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'directory.add') return;
      const members = { ...context.members };
      const watchers = { ...context.watchers };
      for (const { name, spec, timeoutMs } of event.servers) {
        for (let replica = 1; replica <= spec.replicas; replica++) {
          const id = toMemberId(name, replica);
          if (Object.hasOwn(members, id)) continue;
          members[id] = { server: name, replica, state: 'connecting' };
          const input: ServerMemberInput = { name, replica, spec, timeoutMs };
          // Namespaced like every child id made from a name (`server:`, `degradation:`), so no server name can take another child's id.
          enqueue.spawnChild('server', { id: memberSystemId(id), systemId: memberSystemId(id), input });
        }
        const chain = spec.fallback ?? [];
        if (chain.length === 0 || Object.values(watchers).some((list) => list.some((watcher) => watcher.degradation === degradationId(name)))) continue;
        const degradation = degradationId(name);
        const input: DegradationInput = { name, chain };
        enqueue.spawnChild('degradation', { id: degradation, input });
        watchers[name] = [...(getOwn(watchers, name) ?? []), { degradation, role: 'primary' }];
        chain.forEach((step, index) => {
          if (step.kind !== 'server') return;
          watchers[step.server] = [...(getOwn(watchers, step.server) ?? []), { degradation, role: index }];
          // A fallback already running (another run started it) has settled: say so now, it will not report again.
          const pool = Object.values(members).filter((member) => member.server === step.server);
          if (pool.some((member) => member.state === 'serving')) enqueue.sendTo(degradation, { type: 'fallback.changed', step: index, serving: true });
          else if (pool.length > 0 && pool.every((member) => member.state === 'unavailable')) enqueue.sendTo(degradation, { type: 'fallback.changed', step: index, serving: false });
        });
      }
      enqueue.assign({ members, watchers });
    }),
    keepMember: assign({
      members: ({ context, event }) => {
        if (event.type !== 'member.state') return context.members;
        const summary: MemberSummary = { server: event.server, replica: event.replica, state: event.state };
        if (event.error) summary.error = event.error;
        const pid = event.pid ?? getOwn(context.members, event.member)?.pid;
        if (pid !== undefined && event.state !== 'unavailable') summary.pid = pid;
        return { ...context.members, [event.member]: summary };
      },
    }),
    tellDegradations: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'member.state') return;
      for (const watcher of getOwn(context.watchers, event.server) ?? []) {
        const message = toDegradationEvent(context, event, watcher.role);
        if (message) enqueue.sendTo(watcher.degradation, message);
      }
    }),
  },
}).createMachine({
  id: 'servers',
  context: { members: {}, watchers: {} },
  initial: 'open',
  states: {
    open: {
      on: {
        'directory.add': { actions: 'addServers' },
        'member.state': { actions: ['keepMember', { type: 'memberChanged', params: ({ event }) => event }, 'tellDegradations'] },
        'degradation.notify': { actions: { type: 'notify', params: ({ event }) => event } },
        'directory.close': { target: 'closed' },
      },
    },
    // Final: XState stops every child, so every connection closes and its process group is ended.
    closed: { type: 'final' },
  },
});
