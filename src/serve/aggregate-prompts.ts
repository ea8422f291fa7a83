/**
 * Prompts of every serving backend, named `<server>__<prompt>` like tools
 * (shortened the same way), and `prompts/get` routed back to the backend with
 * the prompt's own name; the result passes through unchanged.
 */
import { ErrorCode, McpError, type GetPromptResult, type ListPromptsResult, type Prompt } from '@modelcontextprotocol/sdk/types.js';
import { pickBackend, withBackend } from './backend-sessions.js';
import { describeFailure, isLocalFailure, toPassThroughError } from './backend-errors.js';
import { eachBackend, readPages, type ResourceContext } from './aggregate-resources.js';
import { assignExposedNames, type NamingOptions } from './exposed-names.js';

interface PromptEntry {
  server: string;
  name: string;
  prompt: Prompt;
}

export class PromptCatalog {
  private byName = new Map<string, PromptEntry>();

  constructor(
    private readonly context: ResourceContext,
    private readonly naming: NamingOptions,
  ) {}

  async list(): Promise<ListPromptsResult> {
    const lists = await eachBackend(
      this.context,
      async (server, client, timeout) => {
        const prompts = await readPages((cursor) => client.listPrompts(cursor === undefined ? undefined : { cursor }, { timeout }), (page) => page.prompts);
        return prompts.map((prompt): PromptEntry => ({ server, name: prompt.name, prompt }));
      },
      'prompts',
    );
    this.byName = assignExposedNames(lists.flat(), this.naming);
    return {
      prompts: [...this.byName].map(([name, entry]) => ({ ...entry.prompt, name, description: entry.prompt.description ? `[from ${entry.server}] ${entry.prompt.description}` : `[from ${entry.server}]` })),
    };
  }

  async get(name: string, args: Record<string, string> | undefined, signal: AbortSignal): Promise<GetPromptResult> {
    // A client may get a prompt it learnt of in an earlier session: list again before saying it is unknown.
    if (!this.byName.has(name)) await this.list();
    const entry = this.byName.get(name);
    if (!entry) throw new McpError(ErrorCode.InvalidParams, `unknown prompt "${name}"`);
    const backend = pickBackend(this.context.directory, entry.server);
    if (!backend) throw new McpError(ErrorCode.InternalError, `server "${entry.server}" is unavailable, so its prompt "${entry.name}" cannot be read now`);
    try {
      return await withBackend(backend, (client) => client.getPrompt(args === undefined ? { name: entry.name } : { name: entry.name, arguments: args }, { signal, timeout: this.context.timeoutOf(entry.server) }));
    } catch (error) {
      if (!isLocalFailure(error) && error instanceof McpError) throw toPassThroughError(error);
      throw new McpError(ErrorCode.InternalError, `server "${entry.server}": prompts/get ${entry.name} failed: ${describeFailure(error)}`);
    }
  }
}
