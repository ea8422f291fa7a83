/**
 * What a failed forward becomes. A backend that answered with a JSON-RPC
 * error has its error passed on as it sent it; a backend that is gone or did
 * not answer in time is the aggregator's news, and for a tool call that is an
 * `isError` result naming the server and the cause (the client's model can
 * read it and carry on; the session stays up).
 */
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** Our client's own failures (the session closed, the request timed out), as opposed to the backend's answers. */
export function isLocalFailure(error: unknown): boolean {
  return !(error instanceof McpError) || error.code === ErrorCode.ConnectionClosed || error.code === ErrorCode.RequestTimeout;
}

/**
 * The backend's JSON-RPC error, to throw from a handler so the client gets the
 * same code, message and data (an `McpError` would prefix its message again).
 */
export function toPassThroughError(error: McpError): Error & { code: number; data?: unknown } {
  const prefix = `MCP error ${error.code}: `;
  const message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  const passed: Error & { code: number; data?: unknown } = Object.assign(new Error(message), { code: error.code });
  if (error.data !== undefined) passed.data = error.data;
  return passed;
}

export function toErrorResult(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

export function describeFailure(error: unknown): string {
  if (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) return 'connection closed';
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) return error.message.replace(/^MCP error -?\d+: /, '');
  return error instanceof Error ? error.message : String(error);
}
