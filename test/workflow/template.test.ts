import { describe, expect, it } from 'vitest';
import { EnsembleError } from '../../src/core/errors.js';
import {
  hasPlaceholders,
  listPlaceholders,
  lookupPath,
  renderValue,
  splitPath,
  toText,
} from '../../src/core/template.js';

describe('listPlaceholders', () => {
  it('finds placeholders in nested strings, trimmed, in order', () => {
    const value = { a: 'x {{ tasks.a.text }} y {{tasks.b.json.n}}', b: ['{{ context.0.text }}'], c: { d: 3 } };
    expect(listPlaceholders(value)).toEqual(['tasks.a.text', 'tasks.b.json.n', 'context.0.text']);
  });

  it('returns nothing for values without placeholders', () => {
    expect(listPlaceholders({ a: 'plain', b: [1, null, true] })).toEqual([]);
  });

  it('ignores an unclosed {{', () => {
    expect(listPlaceholders('{{ tasks.a.text')).toEqual([]);
  });

  it('reports an empty placeholder as an empty path', () => {
    expect(listPlaceholders('{{ }}')).toEqual(['']);
  });
});

describe('hasPlaceholders', () => {
  it('is true when any nested string holds {{', () => {
    expect(hasPlaceholders({ a: [{ b: 'x {{ y }}' }] })).toBe(true);
  });

  it('is false for plain values', () => {
    expect(hasPlaceholders({ a: ['x', 1, null] })).toBe(false);
  });
});

describe('splitPath and lookupPath', () => {
  it('splits on dots and trims segments', () => {
    expect(splitPath('tasks. a .json')).toEqual(['tasks', 'a', 'json']);
  });

  it('looks up nested objects and array indexes', () => {
    const scope = { tasks: { a: { json: { items: [{ name: 'x' }] } } } };
    expect(lookupPath(scope, 'tasks.a.json.items.0.name')).toBe('x');
  });

  it('gives undefined when a step is missing or not an object', () => {
    const scope = { tasks: { a: { text: 'hi' } } };
    expect(lookupPath(scope, 'tasks.b.text')).toBeUndefined();
    expect(lookupPath(scope, 'tasks.a.text.length.x')).toBeUndefined();
  });
});

describe('renderValue', () => {
  const scope = { tasks: { a: { text: 'hello', json: { n: 3, list: [1, 2], empty: '' } } } };

  it('keeps the type of a value that is exactly one placeholder', () => {
    expect(renderValue({ count: '{{ tasks.a.json.n }}', list: '{{tasks.a.json.list}}' }, scope, { where: 'test' })).toEqual({
      count: 3,
      list: [1, 2],
    });
  });

  it('interpolates text, writing objects as JSON', () => {
    expect(renderValue('say {{ tasks.a.text }}: {{ tasks.a.json.list }}', scope, { where: 'test' })).toBe('say hello: [1,2]');
  });

  it('renders placeholders inside arrays and nested objects', () => {
    expect(renderValue({ a: ['{{ tasks.a.text }}!'], b: { c: 1 } }, scope, { where: 'test' })).toEqual({
      a: ['hello!'],
      b: { c: 1 },
    });
  });

  it('renders an empty string value as empty, not as missing', () => {
    expect(renderValue('[{{ tasks.a.json.empty }}]', scope, { where: 'test' })).toBe('[]');
  });

  it('throws a TEMPLATE error naming where and the path when a path has no value', () => {
    const render = () => renderValue('{{ tasks.b.text }}', scope, { where: 'task "save" args', task: 'save' });
    expect(render).toThrow(EnsembleError);
    try {
      render();
    } catch (error) {
      expect(error).toMatchObject({ code: 'TEMPLATE', task: 'save', field: 'tasks.b.text' });
      expect((error as Error).message).toBe('task "save" args: {{ tasks.b.text }} has no value');
    }
  });

  it('leaves strings without placeholders and non-strings untouched', () => {
    expect(renderValue({ a: 'plain', b: 2, c: null }, scope, { where: 'test' })).toEqual({ a: 'plain', b: 2, c: null });
  });
});

describe('toText', () => {
  it('writes strings as is, null and undefined as empty, objects as JSON, others with String', () => {
    expect([toText('x'), toText(null), toText(undefined), toText({ a: 1 }), toText(4), toText(false)]).toEqual([
      'x',
      '',
      '',
      '{"a":1}',
      '4',
      'false',
    ]);
  });
});
