/**
 * `{{ path }}` placeholders in workflow strings.
 *
 * A string that is exactly one placeholder renders to the value itself (so
 * `count: "{{ tasks.a.json.n }}"` stays a number); otherwise values are
 * interpolated as text, objects as JSON. A path that does not resolve is an
 * error, never an empty string: silent blanks corrupt downstream work.
 */
import { EnsembleError } from './errors.js';

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE = /^\{\{\s*([^{}]*?)\s*\}\}$/;

/** Every placeholder path in a value (strings nested in arrays and objects too). */
export function listPlaceholders(value: unknown): string[] {
  const found: string[] = [];
  collect(value, found);
  return found;
}

function collect(value: unknown, found: string[]): void {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return;
    for (const match of value.matchAll(PLACEHOLDER)) found.push(match[1] ?? '');
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) collect(item, found);
  }
}

/** True when the value holds any placeholder; lets hot paths skip rendering. */
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
  return render(value, scope, options) as T;
}

function render(value: unknown, scope: Scope, options: RenderOptions): unknown {
  if (typeof value === 'string') return renderString(value, scope, options);
  if (Array.isArray(value)) return value.map((item) => render(item, scope, options));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = render(item, scope, options);
    return out;
  }
  return value;
}

function renderString(template: string, scope: Scope, options: RenderOptions): unknown {
  if (!template.includes('{{')) return template;
  const whole = WHOLE.exec(template);
  if (whole) return resolve(whole[1] ?? '', scope, options);
  return template.replace(PLACEHOLDER, (_match, path: string) => toText(resolve(path, scope, options)));
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
