/**
 * A server actor that does no I/O: it records the commands it gets, so a
 * model-based test can check what the machine asked of each server.
 */
import { fromCallback } from 'xstate';
import type { ServerActorInput, ServerCommand } from '../../src/core/server-port.js';

export interface RecordedCommand {
  server: string;
  command: ServerCommand;
}

export function createRecordingServer(log: RecordedCommand[]) {
  return fromCallback<ServerCommand, ServerActorInput>(({ input, receive }) => {
    receive((command) => log.push({ server: input.name, command }));
  });
}
