/**
 * Regression tests for templates fed hostile input (issue 8): the old
 * placeholder regex backtracked quadratically, so 64 KiB of whitespace after
 * a `{{` in a planner's output blocked the event loop for seconds; there was
 * no way to pass a literal `{{`; and paths found inherited properties.
 * These assert on the input's shape and on the work done, never on time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EnsembleError } from '../../src/core/errors.js';
import { listPlaceholders, lookupPath, MAX_TEMPLATE_LENGTH, renderValue } from '../../src/core/template.js';
import { catchError } from '../support/catch-error.js';

const scope = { tasks: { a: { text: 'hello', json: { n: 3, nested: { k: 'v' } } } } };
const where = { where: 'task "t" args', task: 't' };

/** Counts `String.prototype.indexOf` calls made while `run` runs, with their start positions. */
function countSearches(run: () => void): { calls: number; starts: number[] } {
  const starts: number[] = [];
  const original = String.prototype.indexOf;
  const spy = vi.spyOn(String.prototype, 'indexOf').mockImplementation(function (this: string, search: string, position?: number) {
    starts.push(position ?? 0);
    return original.call(this, search, position);
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return { calls: starts.length, starts };
}

afterEach(() => vi.restoreAllMocks());

describe('templates parse in linear time', () => {
  it('renders 64 KiB of whitespace after an unclosed {{ as text, with a constant number of searches', () => {
    const template = `{{${' '.repeat(64 * 1024)}`;
    let out: unknown;
    const work = countSearches(() => {
      out = renderValue(template, scope, where);
    });
    expect(out).toBe(template);
    // One search for "{{", one for "}}" from after it: the text is walked once, not once per position.
    expect(work.calls).toBeLessThanOrEqual(2);
  });

  it('reads 64 KiB of whitespace inside {{ … }} as one placeholder path, trimmed', () => {
    const pad = ' \t\n'.repeat(22 * 1024);
    expect(renderValue(`{{${pad}tasks.a.text${pad}}}`, scope, where)).toBe('hello');
    const error = catchError(() => renderValue(`{{${pad}}}`, scope, where));
    expect(error).toMatchObject({ code: 'TEMPLATE', task: 't', field: '' });
  });

  it('walks thousands of unclosed {{ in one pass', () => {
    const template = '{{ x '.repeat(20_000);
    let out: unknown;
    const work = countSearches(() => {
      out = renderValue(template, scope, where);
    });
    expect(out).toBe(template);
    expect(work.calls).toBeLessThanOrEqual(2);
  });

  it('renders a 1 MB template with many placeholders, each search starting after the last', () => {
    const unit = `${'x'.repeat(90)} {{ tasks.a.text }} `;
    const count = Math.ceil(1_000_000 / unit.length);
    const template = unit.repeat(count);
    let out: unknown;
    const work = countSearches(() => {
      out = renderValue(template, scope, where);
    });
    expect(out).toBe(`${'x'.repeat(90)} hello `.repeat(count));
    // Two searches per placeholder plus the last one that finds nothing; positions only move forward.
    expect(work.calls).toBeLessThanOrEqual(2 * count + 2);
    expect(work.starts).toEqual([...work.starts].sort((a, b) => a - b));
  });

  it('refuses a template longer than the cap with an error naming the field', () => {
    const huge = `{{ tasks.a.text }}${'x'.repeat(MAX_TEMPLATE_LENGTH)}`;
    const error = catchError(() => renderValue({ content: { body: huge } }, scope, where));
    expect(error).toBeInstanceOf(EnsembleError);
    expect(error).toMatchObject({ code: 'TEMPLATE', task: 't', field: 'content.body' });
    expect((error as Error).message).toContain(`at most ${MAX_TEMPLATE_LENGTH}`);
  });

  it('passes a 1 MB value through a placeholder whole (values are never re-read as templates)', () => {
    const big = `{{ ${'y'.repeat(1_000_000)} {{ tasks.a.text }}`;
    expect(renderValue('got: {{ tasks.a.json.big }}', { tasks: { a: { json: { big } } } }, where)).toBe(`got: ${big}`);
  });
});

describe('a literal {{', () => {
  it('is written \\{{ and passed on as {{, not as a placeholder', () => {
    expect(renderValue('Handlebars: \\{{name}} and {{ tasks.a.text }}', scope, where)).toBe('Handlebars: {{name}} and hello');
    expect(listPlaceholders('\\{{ name }} {{ tasks.a.text }}')).toEqual(['tasks.a.text']);
  });

  it('is read the same after an unclosed {{', () => {
    expect(renderValue('{{ open \\{{ x', scope, where)).toBe('{{ open {{ x');
  });
});

describe('paths read own properties only', () => {
  it('does not resolve {{ tasks.x.json.constructor }} or toString to inherited functions', () => {
    expect(lookupPath(scope, 'tasks.a.json.constructor')).toBeUndefined();
    expect(lookupPath(scope, 'tasks.a.json.nested.toString')).toBeUndefined();
    expect(lookupPath(scope, 'tasks.a.json.__proto__')).toBeUndefined();
    const error = catchError(() => renderValue('{{ tasks.a.json.constructor }}', scope, where));
    expect(error).toMatchObject({ code: 'TEMPLATE', field: 'tasks.a.json.constructor' });
  });

  it('still reads own keys named like inherited ones', () => {
    const own = JSON.parse('{"constructor": "mine", "__proto__": {"x": 1}}') as Record<string, unknown>;
    expect(lookupPath({ v: own }, 'v.constructor')).toBe('mine');
    expect(lookupPath({ v: own }, 'v.__proto__.x')).toBe(1);
  });

  it('keeps an own __proto__ key of the args as a key when rendering', () => {
    const args = JSON.parse('{"__proto__": "{{ tasks.a.text }}", "b": 1}') as Record<string, unknown>;
    const out = renderValue(args, scope, where);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(JSON.stringify(out)).toBe('{"__proto__":"hello","b":1}');
  });
});
