/**
 * A `serverPort` actor that does no I/O: it records every message a machine
 * sends it, so a model-based test can check what the machine asked of the
 * servers. Provide it with `machine.provide({ actors: { serverPort: … } })`;
 * the test sends the directory's answers itself.
 */
import { fromCallback } from 'xstate';
import type { ServerPortMessage } from '../../src/core/server-port.js';

export function createRecordingPort(log: ServerPortMessage[]) {
  return fromCallback<ServerPortMessage>(({ receive }) => {
    receive((message) => log.push(message));
  });
}
