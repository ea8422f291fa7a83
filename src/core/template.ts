/**
 * `{{ path }}` placeholders in workflow strings.
 *
 * A string that is exactly one placeholder renders to the value itself (so
 * `count: "{{ tasks.a.json.n }}"` stays a number); otherwise values are
 * interpolated as text, objects as JSON. A path that does not resolve is an
 * error, never an empty string: silent blanks corrupt downstream work.
 *
 * `\{{` writes a literal `{{` (the backslash is dropped); paths read own
 * properties only.
 */
import { EnsembleError } from './errors.js';

/**
 * The longest string read as a template, in UTF-16 code units (4 Mi). Planner
 * output is model-backed, hence untrusted: rendering is linear in the
 * template's length, and this bounds that length.
 */
export const MAX_TEMPLATE_LENGTH = 4 * 1024 * 1024;

/** A piece of a template: literal text, or the path of a `{{ … }}` placeholder (trimmed). */
type Piece = { text: string } | { path: string };

/**
 * Splits a template into text and placeholders in one left-to-right pass:
 * each `{{` is closed by the next `}}` and every character is looked at a
 * bounded number of times, so hostile input (64 KiB of whitespace after a
 * `{{`, thousands of unclosed `{{`) costs time linear in its length. An
 * unclosed `{{` is text. The path is everything up to the next `}}`, so
 * `{{ a {{ b }}` has the path `a {{ b`, which no reference accepts.
 */
function scan(template: string): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  let from = 0;
  for (;;) {
    const open = template.indexOf('{{', from);
    if (open === -1) break;
    if (open > 0 && template.charCodeAt(open - 1) === 0x5c /* \ */) {
      text += template.slice(from, open - 1) + '{{';
      from = open + 2;
      continue;
    }
    const close = template.indexOf('}}', open + 2);
    if (close === -1) {
      // Unclosed: the rest is text, with its escapes read like everywhere else.
      text += template.slice(from).replaceAll('\\{{', '{{');
      from = template.length;
      break;
    }
    text += template.slice(from, open);
    if (text !== '') pieces.push({ text });
    text = '';
    pieces.push({ path: template.slice(open + 2, close).trim() });
    from = close + 2;
  }
  text += template.slice(from);
  if (text !== '') pieces.push({ text });
  return pieces;
}

/** Every placeholder path in a value (strings nested in arrays and objects too). */
export function listPlaceholders(value: unknown): string[] {
  const found: string[] = [];
  collect(value, found);
  return found;
}

function collect(value: unknown, found: string[]): void {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return;
    for (const piece of scan(value)) if ('path' in piece) found.push(piece.path);
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) collect(item, found);
  }
}

/** True when the value holds any placeholder (or escaped `{{`); lets hot paths skip rendering. */
export function hasPlaceholders(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (Array.isArray(value)) return value.some(hasPlaceholders);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasPlaceholders);
  return false;
}

/** Splits `a.b.0.c` into segments; empty segments make the path invalid. */
export function splitPath(path: string): string[] {
  return path.split('.').map((segment) => segment.trim());
}

export type Scope = Record<string, unknown>;

/** Looks a dotted path up in a scope; `undefined` when any step is missing. */
export function lookupPath(scope: Scope, path: string): unknown {
  let current: unknown = scope;
  for (const segment of splitPath(path)) {
    if (current === null || current === undefined) return undefined;
    if (typeof current !== 'object') return undefined;
    // Own properties only: `{{ tasks.x.json.constructor }}` must not find Object's constructor.
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

export interface RenderOptions {
  /** Says where the template came from, for the error message (e.g. `task "save" args`). */
  where: string;
  task?: string;
}

/** Renders every placeholder in a value against the scope. */
export function renderValue<T>(value: T, scope: Scope, options: RenderOptions): T {
  return render(value, scope, options, '') as T;
}

function render(value: unknown, scope: Scope, options: RenderOptions, field: string): unknown {
  if (typeof value === 'string') return renderString(value, scope, options, field);
  if (Array.isArray(value)) return value.map((item, index) => render(item, scope, options, `${field}[${index}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty: an own `__proto__` key stays a key instead of replacing the prototype.
      Object.defineProperty(out, key, { value: render(item, scope, options, field === '' ? key : `${field}.${key}`), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

function renderString(template: string, scope: Scope, options: RenderOptions, field: string): unknown {
  if (!template.includes('{{')) return template;
  if (template.length > MAX_TEMPLATE_LENGTH) {
    const name = field === '' ? 'template' : field;
    throw new EnsembleError('TEMPLATE', `${options.where}: ${name} is ${template.length} characters long; a template holds at most ${MAX_TEMPLATE_LENGTH}`, {
      ...(options.task !== undefined ? { task: options.task } : {}),
      field: name,
    });
  }
  const pieces = scan(template);
  const [only] = pieces;
  // Exactly one placeholder: the value itself, so a number stays a number.
  if (pieces.length === 1 && only !== undefined && 'path' in only) return resolve(only.path, scope, options);
  let out = '';
  for (const piece of pieces) out += 'path' in piece ? toText(resolve(piece.path, scope, options)) : piece.text;
  return out;
}

function resolve(path: string, scope: Scope, options: RenderOptions): unknown {
  const value = lookupPath(scope, path);
  if (value === undefined) {
    throw new EnsembleError('TEMPLATE', `${options.where}: {{ ${path} }} has no value`, {
      ...(options.task !== undefined ? { task: options.task } : {}),
      field: path,
    });
  }
  return value;
}

/** How a value reads when interpolated into text. */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Renders only the placeholders under one root (`inputs`) and leaves every
 * other placeholder as it was, to be rendered later against the run's scope:
 * a workflow's inputs are bound before it runs, its task results only while
 * it runs. Bound text is escaped (`{{` → `\{{`), so a caller's value that
 * looks like a placeholder stays text and never reads the run's results.
 *
 * @example
 * bindPlaceholders({ q: 'city {{ inputs.city }} after {{ tasks.a.text }}' }, 'inputs', { inputs: { city: 'Oslo' } }, { where: 'task "b" args' })
 * // { q: 'city Oslo after {{ tasks.a.text }}' }
 */
export function bindPlaceholders<T>(value: T, root: string, scope: Scope, options: RenderOptions): T {
  return bind(value, root, scope, options) as T;
}

function bind(value: unknown, root: string, scope: Scope, options: RenderOptions): unknown {
  if (typeof value === 'string') return bindString(value, root, scope, options);
  if (Array.isArray(value)) return value.map((item) => bind(item, root, scope, options));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, { value: bind(item, root, scope, options), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

const isUnder = (path: string, root: string) => splitPath(path)[0] === root;

function bindString(template: string, root: string, scope: Scope, options: RenderOptions): unknown {
  if (!template.includes('{{')) return template;
  const pieces = scan(template);
  if (!pieces.some((piece) => 'path' in piece && isUnder(piece.path, root))) return template;
  const [only] = pieces;
  if (pieces.length === 1 && only !== undefined && 'path' in only) return escapeDeep(resolve(only.path, scope, options));
  let out = '';
  for (const piece of pieces) {
    if ('text' in piece) out += escapeText(piece.text);
    else if (isUnder(piece.path, root)) out += escapeText(toText(resolve(piece.path, scope, options)));
    else out += `{{ ${piece.path} }}`;
  }
  return out;
}

/** Text that a later render gives back unchanged: every `{{` escaped. */
function escapeText(text: string): string {
  return text.replaceAll('{{', '\\{{');
}

function escapeDeep(value: unknown): unknown {
  if (typeof value === 'string') return escapeText(value);
  if (Array.isArray(value)) return value.map(escapeDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      Object.defineProperty(out, key, { value: escapeDeep(item), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}
