/**
 * Description pinning, the tool-poisoning guard: a tool's description and
 * schemas are hashed when first seen and the hash kept (in a JSON pin file
 * when one is given, so the pin outlives the process). A backend that later
 * serves the same tool with another description or schema is flagged, and
 * the changed tool withheld until the change is accepted.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ToolInfo } from '../core/results.js';
import { EnsembleError } from '../core/errors.js';
import { getOwn } from '../core/own.js';

/** `pinned`: as first seen; `new`: first seen now; `accepted`: changed and accepted (re-pinned); `changed`: withheld. */
export type PinStatus = 'new' | 'pinned' | 'accepted' | 'changed';

export interface PinFlag {
  server: string;
  tool: string;
  pinned: string;
  seen: string;
}

interface PinFileShape {
  version: 1;
  /** sha256 hex of each tool's description, inputSchema and outputSchema, by server, then tool. */
  servers: Record<string, Record<string, string>>;
}

export interface DescriptionPinsConfig {
  /** JSON file the pins live in; without it they last as long as the process. */
  file?: string;
  /** Accept every change (`true`), or the changes of these tools (`server/tool`, or `server` for all its tools). */
  acceptChanged?: boolean | string[];
}

export class DescriptionPins {
  private readonly pins: Record<string, Record<string, string>>;
  private readonly flags = new Map<string, PinFlag>();

  constructor(private readonly config: DescriptionPinsConfig = {}) {
    this.pins = config.file ? readPinFile(config.file) : {};
  }

  /** Checks a tool against its pin, pinning it when it is new or its change is accepted. */
  check(server: string, tool: ToolInfo): PinStatus {
    const seen = hashTool(tool);
    const pinned = getOwn(this.pins[server] ?? {}, tool.name);
    const key = `${server}/${tool.name}`;
    if (pinned === seen) {
      this.flags.delete(key);
      return 'pinned';
    }
    if (pinned !== undefined && !this.isAccepted(server, tool.name)) {
      this.flags.set(key, { server, tool: tool.name, pinned, seen });
      return 'changed';
    }
    this.flags.delete(key);
    (this.pins[server] ??= Object.create(null) as Record<string, string>)[tool.name] = seen;
    this.save();
    return pinned === undefined ? 'new' : 'accepted';
  }

  /** Tools withheld now because they changed since they were pinned. */
  listFlags(): PinFlag[] {
    return [...this.flags.values()];
  }

  private isAccepted(server: string, tool: string): boolean {
    const accept = this.config.acceptChanged;
    if (accept === true) return true;
    return Array.isArray(accept) && (accept.includes(server) || accept.includes(`${server}/${tool}`));
  }

  private save(): void {
    const file = this.config.file;
    if (!file) return;
    const shape: PinFileShape = { version: 1, servers: this.pins };
    mkdirSync(dirname(file), { recursive: true });
    // Write then rename: a reader (or a crash) never sees half a pin file.
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(shape, null, 2)}\n`);
    renameSync(temporary, file);
  }
}

/** sha256 of the parts a poisoned tool would change, in a key order that does not depend on the server's. */
export function hashTool(tool: ToolInfo): string {
  const canonical = toCanonicalJson({ description: tool.description ?? null, inputSchema: tool.inputSchema ?? null, outputSchema: tool.outputSchema ?? null });
  return createHash('sha256').update(canonical).digest('hex');
}

function toCanonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(toCanonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${toCanonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function readPinFile(file: string): Record<string, Record<string, string>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new EnsembleError('USAGE', `cannot read pin file ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new EnsembleError('USAGE', `pin file ${file} is not JSON: ${(error as Error).message}`, { file, cause: error });
  }
  const servers = typeof raw === 'object' && raw !== null && 'servers' in raw ? raw.servers : undefined;
  if (typeof servers !== 'object' || servers === null) throw new EnsembleError('USAGE', `pin file ${file} has no "servers" object (expected { "version": 1, "servers": { server: { tool: sha256 } } })`, { file });
  const pins: Record<string, Record<string, string>> = Object.create(null);
  for (const [server, tools] of Object.entries(servers)) {
    if (typeof tools !== 'object' || tools === null) continue;
    pins[server] = Object.create(null);
    for (const [tool, hash] of Object.entries(tools)) if (typeof hash === 'string') pins[server]![tool] = hash;
  }
  return pins;
}
