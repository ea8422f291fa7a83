/**
 * The tools each server offers, found the way a run finds them (the same directory, transports,
 * environment policy and start-up errors), without running anything: what `ensemble tools` shows.
 */
import type { ErrorInfo } from '../core/errors.js';
import type { ToolInfo } from '../core/results.js';
import type { ServerAvailability, ServerReport } from '../core/server-port.js';
import { DEFAULT_CALL_TIMEOUT_MS, type ServerSpec } from '../core/workflow.js';
import { ServerDirectory } from './server-directory.js';

export interface ServerTools {
  server: string;
  /** What it serves, when it started (a fallback's tools, when only its fallbacks did). */
  tools?: ToolInfo[];
  /** Served by its fallbacks: its own tools are unknown. */
  partial?: boolean;
  error?: ErrorInfo;
}

/** Starts the named servers (all by default), lists their tools, and stops every process again. */
export async function listServerTools(servers: Readonly<Record<string, ServerSpec>>, names: readonly string[] = Object.keys(servers), timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<ServerTools[]> {
  const directory = new ServerDirectory({ servers: { ...servers }, timeoutMs, id: 'tools' });
  try {
    const answers = new Map<string, ServerAvailability>();
    await new Promise<void>((resolve) => {
      directory.acquire(names, {
        send: (answer: ServerReport) => {
          if (answer.type !== 'server.ready' && answer.type !== 'server.unavailable') return;
          answers.set(answer.server, answer);
          if (answers.size === names.length) resolve();
        },
      });
    });
    return names.map((server) => {
      const answer = answers.get(server)!;
      if (answer.type === 'server.unavailable') return { server, error: answer.error };
      return answer.partial ? { server, tools: answer.tools, partial: true } : { server, tools: answer.tools };
    });
  } finally {
    await directory.close();
  }
}
