/**
 * Checks on the shape of a raw document (a workflow, a servers config or a
 * planner's result) before the schema reads it: how deep it nests, and keys
 * that cannot be stored as keys.
 *
 * Done as a walk with an explicit stack, so a document nested 10,000 deep
 * gets an error naming the field instead of "Maximum call stack size
 * exceeded" from whatever recursion meets it first.
 */
import type { FieldPath, Problem } from './workflow.schema.js';

/**
 * How deep a document may nest, counted from its root (`tasks[0].args` is
 * already 3 levels). Far beyond any real workflow or tool argument, far below
 * what recursion over it can survive.
 */
export const MAX_NESTING_DEPTH = 64;

/**
 * Values a walk visits at most. YAML aliases share one object between many
 * places, so a small file can stand for a huge tree; this bounds the walk
 * (and the schema's, after it) however the aliases multiply.
 */
export const MAX_DOCUMENT_NODES = 1_000_000;

/**
 * Lists what is wrong with the document's shape: every `__proto__` key (it
 * would set an object's prototype instead of being a key, so the schema would
 * silently drop it; a server of that name "vanished"), and the first place it
 * nests deeper than `MAX_NESTING_DEPTH`.
 *
 * @example
 * checkDocumentShape(JSON.parse('{"servers":{"__proto__":{}}}'))
 * // [{ path: ['servers', '__proto__'], message: '"__proto__" cannot be used as a name or key' }]
 */
export function checkDocumentShape(document: unknown, at: FieldPath = []): Problem[] {
  const problems: Problem[] = [];
  const stack: { value: unknown; path: FieldPath }[] = [{ value: document, path: at }];
  let visited = 0;
  let tooDeep = false;
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (++visited > MAX_DOCUMENT_NODES) {
      problems.push({ path: at, message: `the document holds more than ${MAX_DOCUMENT_NODES} lists and mappings (are YAML aliases multiplying it?)` });
      break;
    }
    if (path.length - at.length >= MAX_NESTING_DEPTH) {
      if (!tooDeep) problems.push({ path, message: `nested too deeply: at most ${MAX_NESTING_DEPTH} levels of lists and mappings` });
      tooDeep = true;
      continue;
    }
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push({ value: value[index], path: [...path, index] });
      continue;
    }
    const keys = Object.keys(value);
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!;
      if (key === '__proto__') {
        problems.push({ path: [...path, key], message: '"__proto__" cannot be used as a name or key' });
        continue;
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return problems;
}
