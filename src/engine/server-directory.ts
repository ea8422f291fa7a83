/**
 * The server directory as the engine runs it: the directory actor (control
 * plane: one lifecycle machine per server process, a degradation machine per
 * server with a fallback chain) wired to the call router (data plane) and to
 * a bus of server events that outlives runs.
 *
 * Runs reach servers through `acquire` and the router, by name. Membership is
 * published as data (`server.joined`, `server.withdrawn`, `server.restored`,
 * `server.tools`), each with what the server serves now.
 */
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { createConnectionActor } from '../../actors/connection.actor.js';
import { directoryMachine, memberSystemId, type DirectoryServer } from '../../machines/directory.machine.js';
import { serverMachine, type MemberStateReport } from '../../machines/server.machine.js';
import { createBus, type RunBus } from '../bus.js';
import type { ServerAvailability, ServerLifecycle, ReplyTarget } from '../core/server-port.js';
import type { ServerSpec } from '../core/workflow.js';
import { getOwn } from '../core/own.js';
import { CallRouter, type Member, type Pool } from './call-router.js';

export interface ServerDirectoryConfig {
  /** Servers as validated workflow specs, by name. */
  servers: Record<string, ServerSpec>;
  /** Default per-call timeout for probes (and calls whose run gives none). */
  timeoutMs: number;
  /** XState's inspection hook, for the directory and every server member. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Id stamped on the directory's own bus events. */
  id?: string;
}

interface Waiter {
  requester: ReplyTarget;
  pending: Set<string>;
}

export class ServerDirectory {
  readonly router = new CallRouter();
  /** Every server event: lifecycle, membership, notifications, logs. */
  readonly bus: RunBus;
  private readonly specs: Record<string, ServerSpec>;
  private readonly actor: Actor<typeof directoryMachine>;
  private readonly closes = new Set<Promise<void>>();
  private readonly waiters = new Set<Waiter>();
  /** Members announced as serving (joined or restored, not withdrawn since). */
  private readonly listed = new Set<string>();
  private closing?: Promise<void>;

  constructor(private readonly config: ServerDirectoryConfig) {
    this.bus = createBus(config.id ?? 'servers');
    this.specs = { ...config.servers };
    const connection = createConnectionActor({
      attach: (member, session) => this.router.attach(member, session),
      detach: (member, session) => this.router.detach(member, session),
      trackClose: (closing) => this.closes.add(closing),
      log: (server, line) => this.bus.publish({ type: 'server.log', server, line }),
    });
    const machine = directoryMachine.provide({
      actors: { server: serverMachine.provide({ actors: { connection } }) },
      actions: {
        memberChanged: (_, report) => this.onMemberChanged(report),
        notify: (_, notice) => this.bus.publish({ type: 'notification', notification: notice.notification }),
      },
    });
    this.actor = createActor(machine, { systemId: 'servers', ...(config.inspect ? { inspect: config.inspect } : {}) });
    this.actor.start();
    const eager = Object.entries(this.specs).filter(([, spec]) => spec.start === 'eager').map(([name]) => name);
    if (eager.length > 0) this.ensure(eager);
  }

  /** The servers this directory knows (started or not), by name. */
  get servers(): Readonly<Record<string, ServerSpec>> {
    return this.specs;
  }

  /** Adds servers the directory does not know yet; they start when first acquired (or now, if eager). */
  register(servers: Record<string, ServerSpec>): void {
    const eager: string[] = [];
    for (const [name, spec] of Object.entries(servers)) {
      if (Object.hasOwn(this.specs, name)) continue;
      this.specs[name] = spec;
      if (spec.start === 'eager') eager.push(name);
    }
    if (eager.length > 0) this.ensure(eager);
  }

  /**
   * Starts (if need be) the named servers and their fallbacks, then answers
   * each name once it has settled: ready with the tools it serves now, or
   * unavailable with the cause. A server waits for its fallbacks to settle
   * first, so one that dies early finds them ready.
   */
  acquire(names: readonly string[], requester: ReplyTarget): void {
    this.ensure(names);
    const waiter: Waiter = { requester, pending: new Set(names) };
    this.waiters.add(waiter);
    // Answered after the caller's transition, even when every server is warm.
    queueMicrotask(() => this.answer(waiter));
  }

  /** Starts the named servers' members, and their fallback chains', if they are not running. */
  ensure(names: readonly string[]): void {
    const added: DirectoryServer[] = [];
    const add = (name: string) => {
      const spec = getOwn(this.specs, name);
      if (!spec || this.router.pool(name)) return;
      this.router.addPool(name, spec);
      added.push({ name, spec, timeoutMs: spec.timeoutMs ?? this.config.timeoutMs });
      for (const step of spec.fallback ?? []) if (step.kind === 'server') add(step.server);
    };
    for (const name of names) add(name);
    if (added.length === 0) return;
    this.actor.send({ type: 'directory.add', servers: added });
    for (const server of added) {
      for (const member of this.router.pool(server.name)!.members) {
        this.router.setLifecycle(member.id, { send: (event) => this.actor.system.get(memberSystemId(member.id))?.send(event) });
      }
    }
  }

  /** A plain-data view of every member, for status pages and tests. */
  listMembers(): { id: string; server: string; replica: number; state: ServerLifecycle; inFlight: number }[] {
    return Object.values(this.specs).length === 0
      ? []
      : Object.keys(this.specs).flatMap((name) => this.router.pool(name)?.members.map((member) => ({ id: member.id, server: member.server, replica: member.replica, state: member.state, inFlight: member.inFlight })) ?? []);
  }

  /** The directory actor's persisted snapshot: plain JSON. */
  getPersistedSnapshot(): unknown {
    return this.actor.getPersistedSnapshot();
  }

  /** Stops every member and waits until no server process is left. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.actor.send({ type: 'directory.close' });
      this.actor.stop();
      await settleAll(this.closes);
      for (const name of Object.keys(this.specs)) {
        for (const member of this.router.pool(name)?.members ?? []) {
          this.router.updateMember(member, { state: 'closed' });
          this.bus.publish({ type: 'server.state', server: member.server, replica: member.replica, state: 'closed' });
        }
      }
      this.bus.complete();
    })();
    return this.closing;
  }

  private onMemberChanged(report: MemberStateReport): void {
    const member = this.router.member(report.member);
    if (!member) return;
    const served = member.served;
    const change: Parameters<CallRouter['updateMember']>[1] = { state: report.state };
    if (report.tools) change.tools = report.tools;
    if (report.error) change.error = report.error;
    if (report.final) change.final = true;
    this.router.updateMember(member, change);

    const state: Parameters<RunBus['publish']>[0] = { type: 'server.state', server: report.server, replica: report.replica, state: report.state };
    if (report.tools) state.tools = report.tools;
    if (report.error) state.error = report.error;
    if (report.pid !== undefined) state.pid = report.pid;
    if (report.attempt !== undefined) state.attempt = report.attempt;
    this.bus.publish(state);
    this.publishMembership(member, report, served);
    if (report.final && getOwn(this.specs, report.server)?.recovery) {
      const attempts = report.attempt ?? 0;
      this.bus.publish({ type: 'server.log', server: report.server, line: `recovery gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}; last error: ${report.error?.message ?? 'unknown'}` });
    }
    // After the directory's transition, so what the change makes the degradation machines say comes first.
    queueMicrotask(() => {
      for (const waiter of this.waiters) this.answer(waiter);
    });
  }

  private publishMembership(member: Member, report: MemberStateReport, servedBefore: boolean): void {
    const pool = this.router.pool(member.server)!;
    const { server, replica } = member;
    if (report.state === 'serving') {
      if (this.listed.has(member.id)) {
        this.bus.publish({ type: 'server.tools', server, replica, tools: member.tools });
        return;
      }
      this.listed.add(member.id);
      this.bus.publish({ type: servedBefore ? 'server.restored' : 'server.joined', server, replica, tools: member.tools });
    } else if (report.state === 'unavailable' && this.listed.delete(member.id)) {
      const now = this.router.listServedTools(pool);
      const error = report.error ?? { code: 'SERVER_UNAVAILABLE' as const, message: `server "${server}" is unavailable`, server };
      this.bus.publish({ type: 'server.withdrawn', server, replica, error, tools: now.tools, servedBy: now.servedBy });
    }
  }

  /** Answers every server of a waiter that has settled; forgets the waiter when none is left. */
  private answer(waiter: Waiter): void {
    for (const name of waiter.pending) {
      const pool = this.router.pool(name);
      if (pool && !this.isSettled(pool)) continue;
      waiter.pending.delete(name);
      waiter.requester.send(this.availabilityOf(name, pool));
    }
    if (waiter.pending.size === 0) this.waiters.delete(waiter);
  }

  /** Every member has served or failed once, and so has every server of its fallback chain. */
  private isSettled(pool: Pool): boolean {
    if (!pool.members.every((member) => member.settled)) return false;
    return (pool.spec.fallback ?? []).every((step) => step.kind === 'builtin' || (this.router.pool(step.server)?.members.every((member) => member.settled) ?? true));
  }

  private availabilityOf(name: string, pool: Pool | undefined): ServerAvailability {
    if (!pool) return { type: 'server.unavailable', server: name, error: { code: 'SERVER_UNAVAILABLE', message: `no server "${name}" in the directory`, server: name } };
    if (this.router.hasServing(pool)) return { type: 'server.ready', server: name, tools: this.router.listServedTools(pool).tools };
    const now = this.router.listServedTools(pool);
    const cause = pool.members.find((member) => member.error)?.error ?? { code: 'SERVER_UNAVAILABLE' as const, message: `server "${name}" is unavailable`, server: name };
    if (now.servedBy.length === 0) return { type: 'server.unavailable', server: name, error: cause };
    const partial = !pool.members.some((member) => member.served);
    return partial ? { type: 'server.ready', server: name, tools: now.tools, partial } : { type: 'server.ready', server: name, tools: now.tools };
  }
}

/** Waits for every close, including ones that start while waiting. */
async function settleAll(closes: Set<Promise<void>>): Promise<void> {
  let seen = -1;
  while (seen !== closes.size) {
    seen = closes.size;
    await Promise.allSettled([...closes]);
  }
}
