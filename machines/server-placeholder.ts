/**
 * Stand-in for the server actor in machine definitions. Machines name their
 * server actor `server` and never reach a transport; the engine provides the
 * real one (`actors/server.actor.ts`), tests provide fakes. Its type is loose
 * on purpose: any logic that takes `ServerActorInput` and speaks the server
 * port (`src/core/server-port.ts`) fits.
 */
import { fromCallback, type ActorLogic } from 'xstate';
import type { ServerActorInput, ServerCommand } from '../src/core/server-port.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ServerLogic = ActorLogic<any, any, ServerActorInput, any, any>;

export const serverPlaceholder = fromCallback<ServerCommand, ServerActorInput>(() => {
  throw new Error('no server actor provided: use machine.provide({ actors: { server } })');
}) as unknown as ServerLogic;
