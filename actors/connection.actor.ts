/**
 * The connection actor: the I/O behind one server member's lifecycle machine.
 * It owns one `McpConnection` (one process or HTTP session) from the moment
 * the member enters `live` until it leaves it, and hands the open session to
 * the call router, which sends calls to it directly. The lifecycle machine
 * hears from here only what changes its state: open, failed, lost, pongs and
 * a changed tool list.
 */
import { fromCallback } from 'xstate';
import type { ErrorInfo } from '../src/core/errors.js';
import { toMemberId, type ConnectionCommand, type ConnectionEvent, type ServerMemberInput } from '../src/core/server-port.js';
import { McpConnection } from './mcp-connection.js';

export interface ConnectionActorDeps {
  /** The session is open: calls may go to it once the member serves. */
  attach(member: string, connection: McpConnection): void;
  /** The session is going away (the member left `live`): no more calls to it. */
  detach(member: string, connection: McpConnection): void;
  /** Receives every close in progress, so the directory can wait until no process is left. */
  trackClose(closing: Promise<void>): void;
  /** A line worth showing about the server (garbage on stdout). */
  log(server: string, line: string): void;
}

/**
 * Creates the connection actor logic for the server machine's `connection`.
 *
 * @example
 * const member = serverMachine.provide({ actors: { connection: createConnectionActor(deps) } });
 */
export function createConnectionActor(deps: ConnectionActorDeps) {
  return fromCallback<ConnectionCommand, ServerMemberInput, ConnectionEvent>(({ input, receive, sendBack }) => {
    const member = toMemberId(input.name, input.replica);
    let ended = false;
    const connection = new McpConnection(input.name, input.spec, {
      onLost: (error) => {
        if (!ended) sendBack({ type: 'conn.lost', error });
      },
      onGarbage: (message) => deps.log(input.name, `not JSON-RPC on stdout: ${message}`),
      onToolsChanged: (tools) => {
        if (!ended) sendBack({ type: 'conn.tools', tools });
      },
    });
    connection.open(input.spec.timeoutMs ?? input.timeoutMs).then(
      (tools) => {
        if (ended) return;
        deps.attach(member, connection);
        sendBack(connection.pid === undefined ? { type: 'conn.open', tools } : { type: 'conn.open', tools, pid: connection.pid });
      },
      (error: ErrorInfo) => {
        if (!ended) sendBack({ type: 'conn.failed', error });
      },
    );

    receive((command) => {
      connection.ping(command.timeoutMs).then(
        () => {
          if (!ended) sendBack({ type: 'conn.pong' });
        },
        (error: ErrorInfo) => {
          if (!ended) sendBack({ type: 'conn.ping.failed', error });
        },
      );
    });

    // Runs whenever `live` is left: for `unavailable` (the process is dead or sick), for `closed`, or on stop.
    return () => {
      ended = true;
      deps.detach(member, connection);
      deps.trackClose(connection.close());
    };
  });
}
