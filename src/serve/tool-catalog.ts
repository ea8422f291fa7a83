/**
 * What the aggregator lists: every backend's tools under their exposed names,
 * after allow/deny lists and description pins. It is fed the server
 * directory's membership events (each carries the whole MCP `Tool`s a server
 * serves now) and says whether the list a client sees changed, so the
 * aggregator sends `notifications/tools/list_changed` only when it did.
 */
import { ToolSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ErrorInfo } from '../core/errors.js';
import type { ToolInfo } from '../core/results.js';
import { getOwn } from '../core/own.js';
import { DescriptionPins, type PinFlag } from './description-pins.js';
import { assignExposedNames, type NamingOptions } from './exposed-names.js';
import { isToolAllowed, type ToolFilter } from './tool-filter.js';

export interface ExposedTool {
  /** The name the client sees. */
  name: string;
  server: string;
  /** The tool as its server lists it. */
  tool: ToolInfo;
  /** The name is not `server__tool` (too long, odd characters or a collision). */
  shortened: boolean;
}

interface BackendTools {
  tools: ToolInfo[];
  error?: ErrorInfo;
}

export interface ToolCatalogConfig {
  naming: NamingOptions;
  filters: Record<string, ToolFilter>;
  pins: DescriptionPins;
  /** Names no backend tool may take (the aggregator's own tools). */
  reserved: ReadonlySet<string>;
  /** A tool changed since it was pinned and is withheld: said once per change. */
  onWithheld?: (flag: PinFlag) => void;
}

export class ToolCatalog {
  private readonly backends = new Map<string, BackendTools>();
  private exposed = new Map<string, ExposedTool>();
  /** Every name once exposed, so a call to a withdrawn tool can name its server. */
  private readonly everExposed = new Map<string, { server: string; tool: string }>();
  private readonly reported = new Set<string>();
  private signature = '';
  private clientTools: Tool[] = [];

  constructor(private readonly config: ToolCatalogConfig) {}

  /** A server now serves `tools` (none when it is down); `error` says why it stopped. True when the listed tools changed. */
  update(server: string, tools: readonly ToolInfo[], error?: ErrorInfo): boolean {
    const backend: BackendTools = { tools: [...tools] };
    if (error) backend.error = error;
    this.backends.set(server, backend);
    return this.rebuild();
  }

  /** The tools a client sees, in a stable order. */
  list(): ExposedTool[] {
    return [...this.exposed.values()];
  }

  /** The same, as MCP `Tool`s. */
  listClientTools(): Tool[] {
    return this.clientTools;
  }

  find(name: string): ExposedTool | undefined {
    return this.exposed.get(name);
  }

  /** Where a name that is not listed now came from, if it ever was listed. */
  findWithdrawn(name: string): { server: string; tool: string; error?: ErrorInfo } | undefined {
    const origin = this.everExposed.get(name);
    if (!origin) return undefined;
    const error = this.backends.get(origin.server)?.error;
    return error ? { ...origin, error } : origin;
  }

  /** The last error a server gave, while it is down. */
  errorOf(server: string): ErrorInfo | undefined {
    return this.backends.get(server)?.error;
  }

  private rebuild(): boolean {
    const candidates: { server: string; name: string; tool: ToolInfo }[] = [];
    for (const [server, backend] of this.backends) {
      const filter = getOwn(this.config.filters, server);
      for (const tool of backend.tools) {
        if (!isToolAllowed(filter, tool.name)) continue;
        const status = this.config.pins.check(server, tool);
        if (status === 'changed') {
          this.reportWithheld(server, tool.name);
          continue;
        }
        candidates.push({ server, name: tool.name, tool });
      }
    }
    const assigned = assignExposedNames(candidates, this.config.naming, this.config.reserved);
    const next = new Map<string, ExposedTool>();
    const clientTools: Tool[] = [];
    for (const [name, candidate] of assigned) {
      const shortened = name !== `${candidate.server}${this.config.naming.separator}${candidate.name}`;
      const clientTool = toClientTool(name, candidate.server, candidate.tool, shortened);
      // A tool the SDK would refuse to send (a fallback mapping's, with no schema, is given one) is not listed.
      if (!clientTool) continue;
      clientTools.push(clientTool);
      next.set(name, { name, server: candidate.server, tool: candidate.tool, shortened });
      this.everExposed.set(name, { server: candidate.server, tool: candidate.name });
    }
    this.exposed = next;
    this.clientTools = clientTools;
    const signature = JSON.stringify([...next.values()].map((entry) => [entry.name, entry.tool]));
    const changed = signature !== this.signature;
    this.signature = signature;
    return changed;
  }

  private reportWithheld(server: string, tool: string): void {
    const flag = this.config.pins.listFlags().find((item) => item.server === server && item.tool === tool);
    if (!flag) return;
    const key = `${server}/${tool}/${flag.seen}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.config.onWithheld?.(flag);
  }
}

/** The MCP `Tool` a client sees: the backend's own, renamed, its description saying where it comes from. */
function toClientTool(name: string, server: string, tool: ToolInfo, shortened: boolean): Tool | undefined {
  const origin = shortened ? `[from ${server}: ${tool.name}]` : `[from ${server}]`;
  // Everything else (inputSchema, outputSchema, annotations, title, icons, _meta) passes through as the backend sent it.
  const parsed = ToolSchema.safeParse({ ...tool, name, description: tool.description ? `${origin} ${tool.description}` : origin, inputSchema: tool.inputSchema ?? { type: 'object' } });
  return parsed.success ? parsed.data : undefined;
}
