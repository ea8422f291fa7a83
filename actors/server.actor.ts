/**
 * The server actor: one per configured server, spawned by a coordinating
 * machine. It wraps one MCP connection and shows its lifecycle as states:
 *
 *   open ─┬─ connecting ──► ready ⇄ busy
 *         │        └──────────────────► unavailable
 *   closed (final; reached on `server.close`, or when the actor is stopped)
 *
 * Replies go to the parent as `ServerReport` events; every call's result or
 * error, and every state change, is also published on the bus.
 */
import { assign, enqueueActions, fromCallback, sendParent, sendTo, setup, type ActorRefFrom, type AnyActorRef } from 'xstate';
import type { BusPayload } from '../src/core/bus-events.js';
import type { ErrorInfo } from '../src/core/errors.js';
import type { ToolInfo } from '../src/core/results.js';
import type { ReplyTarget, ServerActorInput, ServerCommand, ServerLifecycle, ServerReport } from '../src/core/server-port.js';
import { McpConnection } from './mcp-connection.js';

export interface ServerActorDeps {
  publish(event: BusPayload): void;
  /** Receives every close in progress, so the engine can wait until no server process is left. */
  trackClose(closing: Promise<void>): void;
}

type ConnectionEvent =
  | { type: 'conn.open'; tools: ToolInfo[]; pid?: number }
  | { type: 'conn.failed'; error: ErrorInfo }
  | { type: 'conn.lost'; error: ErrorInfo }
  | { type: 'conn.reply'; reply: ServerReport; replyTo?: ReplyTarget };

type ServerActorEvent = ServerCommand | ConnectionEvent | { type: 'server.close' };

interface ServerActorContext extends ServerActorInput {
  inFlight: number;
  tools: ToolInfo[];
  error?: ErrorInfo;
}

/** Builds the connection actor: it owns the SDK client and does the I/O. */
function createConnectionLogic(deps: ServerActorDeps) {
  return fromCallback<ServerCommand, ServerActorInput, ConnectionEvent>(({ input, receive, sendBack }) => {
    const { name } = input;
    const inFlight = new Map<string, AbortController>();
    const connection = new McpConnection(name, input.spec, {
      onLost: (error) => sendBack({ type: 'conn.lost', error }),
      onGarbage: (message) => deps.publish({ type: 'server.log', server: name, line: `not JSON-RPC on stdout: ${message}` }),
    });
    connection.open(input.spec.timeoutMs ?? input.timeoutMs).then(
      (tools) => sendBack(connection.pid === undefined ? { type: 'conn.open', tools } : { type: 'conn.open', tools, pid: connection.pid }),
      (error: ErrorInfo) => sendBack({ type: 'conn.failed', error }),
    );

    receive((command) => {
      if (command.type === 'server.restart') return; // the server actor itself restarts the session
      if (command.type === 'server.cancel') {
        inFlight.get(command.callId)?.abort(command.reason);
        return;
      }
      const controller = new AbortController();
      inFlight.set(command.callId, controller);
      const options = { timeoutMs: command.timeoutMs ?? input.spec.timeoutMs ?? input.timeoutMs, signal: controller.signal };
      const started = performance.now();
      const task = command.task;
      const reply = (report: ServerReport) => sendBack(command.replyTo ? { type: 'conn.reply', reply: report, replyTo: command.replyTo } : { type: 'conn.reply', reply: report });
      if (command.type === 'server.call') {
        connection.callTool(command.tool, command.args, options).then(
          (result) => {
            inFlight.delete(command.callId);
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.result', server: name, callId: command.callId, tool: command.tool, result, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.result', server: name, callId: command.callId, result, durationMs });
          },
          (error: ErrorInfo) => {
            inFlight.delete(command.callId);
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.error', server: name, callId: command.callId, tool: command.tool, error, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.failed', server: name, callId: command.callId, error, durationMs });
          },
        );
      } else {
        const what = `resources/read ${command.uri}`;
        connection.readResource(command.uri, options).then(
          (resource) => {
            inFlight.delete(command.callId);
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.result', server: name, callId: command.callId, tool: what, result: { text: resource.text, json: resource.json, isError: false, content: [] }, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.resource', server: name, callId: command.callId, resource, durationMs });
          },
          (error: ErrorInfo) => {
            inFlight.delete(command.callId);
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.error', server: name, callId: command.callId, tool: what, error, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.failed', server: name, callId: command.callId, error, durationMs });
          },
        );
      }
    });

    return () => {
      for (const controller of inFlight.values()) controller.abort('server closed');
      deps.trackClose(connection.close().then(() => deps.publish({ type: 'server.state', server: name, replica: input.replica ?? 1, state: 'closed' })));
    };
  });
}

/**
 * Creates the server actor logic with its side effects bound to a run's bus.
 *
 * @example
 * const server = createServerActor({ publish: bus.publish, trackClose: closes.add });
 * machine.provide({ actors: { server } });
 */
export function createServerActor(deps: ServerActorDeps) {
  const publishState = (context: ServerActorContext, state: ServerLifecycle, extra: { tools?: ToolInfo[]; error?: ErrorInfo; pid?: number } = {}) =>
    deps.publish({ type: 'server.state', server: context.name, replica: context.replica ?? 1, state, ...extra });

  return setup({
    types: {
      context: {} as ServerActorContext,
      input: {} as ServerActorInput,
      events: {} as ServerActorEvent,
    },
    actors: { connection: createConnectionLogic(deps) },
    guards: {
      isLastCall: ({ context }) => context.inFlight <= 1,
    },
    actions: {
      // sendTo defers delivery until this transition is done: a reply never runs another actor mid-transition.
      deliverReply: sendTo(
        ({ event, self }) => ((event.type === 'conn.reply' && event.replyTo) || self._parent) as AnyActorRef,
        ({ event }) => (event as Extract<ServerActorEvent, { type: 'conn.reply' }>).reply,
      ),
      countCall: assign({ inFlight: ({ context }) => context.inFlight + 1 }),
      forwardCall: sendTo('connection', ({ event }) => event as ServerCommand),
      // The server cannot take calls now: answer at once so no caller waits forever.
      refuseCall: enqueueActions(({ context, event, enqueue, self }) => {
        if (event.type !== 'server.call' && event.type !== 'server.read') return;
        const error: ErrorInfo = context.error ?? {
          code: 'SERVER_UNAVAILABLE',
          message: `server "${context.name}" is not connected yet`,
          server: context.name,
        };
        const tool = event.type === 'server.call' ? event.tool : `resources/read ${event.uri}`;
        deps.publish({ type: 'server.call.error', server: context.name, callId: event.callId, tool, error, durationMs: 0, ...(event.task ? { task: event.task } : {}) });
        const target = (event.replyTo ?? self._parent) as AnyActorRef | undefined;
        if (target) enqueue.sendTo(target, { type: 'server.failed', server: context.name, callId: event.callId, error, durationMs: 0 } satisfies ServerReport);
      }),
    },
  }).createMachine({
    id: 'server',
    context: ({ input }) => ({ ...input, inFlight: 0, tools: [] }),
    initial: 'open',
    states: {
      open: {
        invoke: { id: 'connection', src: 'connection', input: ({ context }) => ({ name: context.name, spec: context.spec, runId: context.runId, timeoutMs: context.timeoutMs }) },
        initial: 'connecting',
        on: {
          'server.close': { target: 'closed' },
          // A reply can arrive after the server was declared unavailable: pass it on all the same.
          'conn.reply': { actions: [assign({ inFlight: ({ context }) => Math.max(0, context.inFlight - 1) }), 'deliverReply'] },
          'server.cancel': { actions: 'forwardCall' },
        },
        states: {
          connecting: {
            entry: ({ context }) => publishState(context, 'connecting'),
            on: {
              'conn.open': {
                target: 'ready',
                actions: [
                  assign({ tools: ({ event }) => event.tools }),
                  ({ context, event }) => publishState(context, 'ready', event.pid === undefined ? { tools: event.tools } : { tools: event.tools, pid: event.pid }),
                  sendParent(({ context, event }) => ({ type: 'server.ready', server: context.name, replica: context.replica ?? 1, tools: event.tools }) satisfies ServerReport),
                ],
              },
              'conn.failed': { target: 'unavailable', actions: assign({ error: ({ event }) => event.error }) },
              'server.call': { actions: 'refuseCall' },
              'server.read': { actions: 'refuseCall' },
            },
          },
          ready: {
            on: {
              'server.call': { target: 'busy', actions: ['countCall', 'forwardCall'] },
              'server.read': { target: 'busy', actions: ['countCall', 'forwardCall'] },
              'conn.lost': { target: 'unavailable', actions: assign({ error: ({ event }) => event.error }) },
            },
          },
          busy: {
            entry: ({ context }) => publishState(context, 'busy'),
            exit: ({ context }) => publishState(context, 'ready'),
            on: {
              'server.call': { actions: ['countCall', 'forwardCall'] },
              'server.read': { actions: ['countCall', 'forwardCall'] },
              'conn.reply': [
                { guard: 'isLastCall', target: 'ready', actions: [assign({ inFlight: 0 }), 'deliverReply'] },
                { actions: [assign({ inFlight: ({ context }) => context.inFlight - 1 }), 'deliverReply'] },
              ],
              'conn.lost': { target: 'unavailable', actions: assign({ error: ({ event }) => event.error }) },
            },
          },
          unavailable: {
            entry: [
              ({ context }) => publishState(context, 'unavailable', context.error ? { error: context.error } : {}),
              sendParent(({ context }) => ({ type: 'server.unavailable', server: context.name, replica: context.replica ?? 1, error: context.error! }) satisfies ServerReport),
            ],
            on: {
              'server.call': { actions: 'refuseCall' },
              'server.read': { actions: 'refuseCall' },
            },
          },
        },
      },
      // The connection's cleanup ends the process and then publishes `closed`.
      closed: { type: 'final' },
    },
  });
}

export type ServerActorLogic = ReturnType<typeof createServerActor>;
export type ServerActorRef = ActorRefFrom<ServerActorLogic>;
