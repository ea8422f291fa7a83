/**
 * The `serverPort` actor a run's machine invokes: it binds the run to the
 * server directory. Messages are plain data (server names, call ids, the
 * sender's system id); the directory answers the sender directly, so a call
 * passes through no statechart on its way to a server.
 */
import { fromCallback, type AnyActorRef } from 'xstate';
import type { ServerPortMessage } from '../core/server-port.js';
import type { RunScope } from './call-router.js';
import type { ServerDirectory } from './server-directory.js';

export function createServerPortActor(directory: ServerDirectory, scope: RunScope) {
  return fromCallback<ServerPortMessage>(({ receive, self, system }) => {
    const run = self._parent as AnyActorRef;
    // Senders by system id, looked up once each.
    const senders = new Map<string, AnyActorRef>();
    const senderOf = (from: string | undefined): AnyActorRef => {
      if (from === undefined) return run;
      let sender = senders.get(from);
      if (!sender) {
        sender = (system.get(from) as AnyActorRef | undefined) ?? run;
        senders.set(from, sender);
      }
      return sender;
    };
    receive((message) => {
      const requester = senderOf(message.from);
      if (message.type === 'port.acquire') directory.acquire(message.servers, requester);
      else directory.router.request(message, requester, scope);
    });
    return () => directory.router.abandon(scope, 'the run ended');
  });
}
