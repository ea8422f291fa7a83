/**
 * The inspector page's model: a plain JSON object built by one reducer, `applyEvent(model, event)`,
 * from the feed of inspection and bus events. The live page, the replay scrubber and Node code
 * (tests, `ensemble inspect`) all fold the same events with the same reducer, so a replayed trace
 * gives the model the live page had.
 *
 * Everything lives inside `inspectorModelKit` with no imports and no module-level helpers: the
 * page inlines `inspectorModelKit.toString()`, so the browser runs exactly this code.
 */

/** One event of the feed: an inspection event in `@statelyai/inspect`'s shape, or a bus event. */
export interface FeedEvent {
  type: string;
  [key: string]: unknown;
}

export interface ActorView {
  sessionId: string;
  name: string;
  parentId?: string;
  rootId?: string;
  /** The machine's definition (`machine.toJSON()`), or null for logic that is not a machine. */
  definition: unknown;
  value: unknown;
  status: string;
  /** The transition last taken: source and target state ids (`#machine.state`) and its event. */
  lastTransition?: { sources: string[]; targets: string[]; eventType: string };
}

export interface MemberView {
  member: string;
  server: string;
  replica: number;
  state: string;
  /** The lifecycle states it went through, in order (repeats folded, the last 12): a death stays visible after the run closes the server. */
  trail: string[];
  pid?: number;
  error?: string;
}

export interface CallView {
  id: number;
  task: string;
  server: string;
  tool: string;
  startedAt: number;
  endedAt?: number;
  status: 'busy' | 'done' | 'failed';
  servedBy?: string;
  worker?: string;
}

export interface BusRow {
  seq: number;
  type: string;
  at: number;
  event: FeedEvent;
}

export interface InspectorModel {
  /** Events applied so far. */
  count: number;
  /** How many bus rows and calls are kept (older ones stay in the trace). */
  window: number;
  /** The latest bus timestamp: where a busy bar ends. */
  now: number;
  startedAt?: number;
  run: { runId?: string; workflow?: string; pattern?: string; phase?: string; status: string };
  actors: Record<string, ActorView>;
  actorOrder: string[];
  members: Record<string, MemberView>;
  /** For each server standing down, who serves in its stead. */
  fallbacks: Record<string, string[]>;
  calls: CallView[];
  /** Open call id by task id. */
  openCalls: Record<string, number>;
  nextCallId: number;
  bus: BusRow[];
  ended: boolean;
}

export interface InspectorModelKit {
  createModel(window?: number): InspectorModel;
  applyEvent(model: InspectorModel, event: FeedEvent): InspectorModel;
  /** The ids (`machine.a.b`) of the states a snapshot value makes active, read against the definition. */
  activeStateIds(definition: unknown, value: unknown): string[];
}

export function inspectorModelKit(): InspectorModelKit {
  function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
  function text(value: unknown): string | undefined {
    return typeof value === 'string' ? value : undefined;
  }
  function own(record: Record<string, unknown>, key: string): unknown {
    return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
  }

  function createModel(window?: number): InspectorModel {
    return {
      count: 0,
      window: typeof window === 'number' && window > 0 ? window : 5000,
      now: 0,
      run: { status: 'waiting' },
      actors: {},
      actorOrder: [],
      members: {},
      fallbacks: {},
      calls: [],
      openCalls: {},
      nextCallId: 1,
      bus: [],
      ended: false,
    };
  }

  function activeStateIds(definition: unknown, value: unknown): string[] {
    const ids: string[] = [];
    function walk(node: unknown, nodeValue: unknown): void {
      if (!isRecord(node)) return;
      const states = isRecord(node.states) ? node.states : {};
      if (typeof nodeValue === 'string') {
        const child = own(states, nodeValue);
        if (isRecord(child) && typeof child.id === 'string') ids.push(child.id);
        return;
      }
      if (!isRecord(nodeValue)) return;
      for (const key of Object.keys(nodeValue)) {
        const child = own(states, key);
        if (!isRecord(child)) continue;
        if (typeof child.id === 'string') ids.push(child.id);
        walk(child, nodeValue[key]);
      }
    }
    walk(definition, value);
    return ids;
  }

  function actorOf(model: InspectorModel, sessionId: string): ActorView {
    const known = Object.prototype.hasOwnProperty.call(model.actors, sessionId) ? model.actors[sessionId] : undefined;
    if (known) return known;
    const created: ActorView = { sessionId, name: sessionId, definition: null, value: null, status: 'active' };
    model.actors[sessionId] = created;
    model.actorOrder.push(sessionId);
    return created;
  }

  function parseDefinition(definition: unknown): unknown {
    if (typeof definition !== 'string') return null;
    try {
      const parsed: unknown = JSON.parse(definition);
      return isRecord(parsed) && isRecord(parsed.states) ? parsed : null;
    } catch {
      return null;
    }
  }

  function applyInspection(model: InspectorModel, event: FeedEvent): void {
    const sessionId = text(event.sessionId);
    if (sessionId === undefined) return;
    if (event.type === '@xstate.actor') {
      const actor = actorOf(model, sessionId);
      actor.name = text(event.name) ?? sessionId;
      const parentId = text(event.parentId);
      if (parentId !== undefined) actor.parentId = parentId;
      const rootId = text(event.rootId);
      if (rootId !== undefined) actor.rootId = rootId;
      actor.definition = parseDefinition(event.definition);
      if (isRecord(event.snapshot)) {
        actor.value = event.snapshot.value === undefined ? null : event.snapshot.value;
        actor.status = text(event.snapshot.status) ?? actor.status;
      }
      return;
    }
    if (event.type === '@xstate.snapshot') {
      const actor = actorOf(model, sessionId);
      if (isRecord(event.snapshot)) {
        actor.value = event.snapshot.value === undefined ? null : event.snapshot.value;
        actor.status = text(event.snapshot.status) ?? actor.status;
      }
      return;
    }
    if (event.type === '@xstate.microstep') {
      const transitions = Array.isArray(event.transitions) ? event.transitions : [];
      if (transitions.length === 0) return;
      const actor = actorOf(model, sessionId);
      const sources: string[] = [];
      const targets: string[] = [];
      let eventType = '';
      for (const transition of transitions) {
        if (!isRecord(transition)) continue;
        if (typeof transition.source === 'string') sources.push(transition.source);
        if (Array.isArray(transition.targets)) for (const target of transition.targets) if (typeof target === 'string') targets.push(target);
        if (typeof transition.eventType === 'string') eventType = transition.eventType;
      }
      actor.lastTransition = { sources, targets, eventType };
      if (event.value !== undefined) actor.value = event.value;
    }
  }

  function memberOf(model: InspectorModel, server: string, replica: number): MemberView {
    const id = server + '#' + replica;
    const known = Object.prototype.hasOwnProperty.call(model.members, id) ? model.members[id] : undefined;
    if (known) return known;
    const created: MemberView = { member: id, server, replica, state: 'connecting', trail: [] };
    model.members[id] = created;
    return created;
  }

  function closeCall(model: InspectorModel, taskId: string, at: number, status: 'done' | 'failed', servedBy: unknown): void {
    const id = own(model.openCalls, taskId);
    if (typeof id !== 'number') return;
    delete model.openCalls[taskId];
    // Calls are kept in id order, so the open one is found from the end in a few steps.
    for (let index = model.calls.length - 1; index >= 0; index--) {
      const call = model.calls[index];
      if (call === undefined || call.id !== id) continue;
      call.endedAt = at;
      call.status = status;
      if (typeof servedBy === 'string') call.servedBy = servedBy;
      return;
    }
  }

  function applyBus(model: InspectorModel, event: FeedEvent): void {
    const at = typeof event.at === 'number' ? event.at : model.now;
    model.now = Math.max(model.now, at);
    if (model.startedAt === undefined) model.startedAt = at;
    model.bus.push({ seq: model.count, type: event.type, at, event });
    if (model.bus.length > model.window) model.bus.splice(0, model.bus.length - model.window);
    const task = isRecord(event.task) ? event.task : undefined;
    switch (event.type) {
      case 'run.started':
        model.run.runId = text(event.runId);
        model.run.workflow = text(event.workflow);
        model.run.pattern = text(event.pattern);
        model.run.status = 'running';
        model.ended = false;
        return;
      case 'run.phase':
        model.run.phase = text(event.phase);
        return;
      case 'run.finished':
        model.run.status = text(event.status) ?? 'finished';
        model.ended = true;
        return;
      case 'task.started': {
        if (!task || typeof task.id !== 'string') return;
        const call: CallView = { id: model.nextCallId++, task: task.id, server: text(task.server) ?? '?', tool: text(task.tool) ?? '?', startedAt: at, status: 'busy' };
        const worker = text(event.worker);
        if (worker !== undefined) call.worker = worker;
        model.calls.push(call);
        model.openCalls[task.id] = call.id;
        if (model.calls.length > model.window) model.calls.splice(0, model.calls.length - model.window);
        return;
      }
      case 'task.completed':
        if (task && typeof task.id === 'string') closeCall(model, task.id, at, 'done', event.servedBy);
        if (task && typeof task.server === 'string' && typeof event.servedBy === 'string') {
          const list = model.fallbacks[task.server] ?? [];
          if (list.indexOf(event.servedBy) === -1) list.push(event.servedBy);
          model.fallbacks[task.server] = list;
        }
        return;
      case 'task.failed':
        if (task && typeof task.id === 'string') closeCall(model, task.id, at, 'failed', undefined);
        return;
      case 'server.state': {
        if (typeof event.server !== 'string' || typeof event.replica !== 'number') return;
        const member = memberOf(model, event.server, event.replica);
        member.state = text(event.state) ?? member.state;
        if (member.trail[member.trail.length - 1] !== member.state) member.trail.push(member.state);
        if (member.trail.length > 12) member.trail.splice(0, member.trail.length - 12);
        if (typeof event.pid === 'number') member.pid = event.pid;
        if (isRecord(event.error) && typeof event.error.message === 'string') member.error = event.error.message;
        else if (member.state === 'serving') delete member.error;
        return;
      }
      case 'server.withdrawn':
        if (typeof event.server === 'string' && Array.isArray(event.servedBy)) {
          const list = model.fallbacks[event.server] ?? [];
          for (const name of event.servedBy) if (typeof name === 'string' && list.indexOf(name) === -1) list.push(name);
          model.fallbacks[event.server] = list;
        }
        return;
      case 'server.restored':
        if (typeof event.server === 'string') delete model.fallbacks[event.server];
        return;
      default:
        return;
    }
  }

  function applyEvent(model: InspectorModel, event: FeedEvent): InspectorModel {
    if (!isRecord(event) || typeof event.type !== 'string') return model;
    if (event.type.indexOf('@xstate.') === 0) applyInspection(model, event);
    else applyBus(model, event);
    model.count++;
    return model;
  }

  return { createModel, applyEvent, activeStateIds };
}
