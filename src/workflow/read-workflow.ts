/**
 * Reading a workflow file: syntax errors carry the line they are on, and
 * validation errors the line of the field concerned.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import type { Document, LineCounter, Node } from 'yaml';
import { EnsembleError } from '../core/errors.js';
import type { Workflow } from '../core/workflow.js';
import { MAX_NESTING_DEPTH } from './document-shape.js';
import { parseWorkflow, type ParseWorkflowOptions } from './parse-workflow.js';
import type { FieldPath } from './workflow.schema.js';

/**
 * The `yaml` library, loaded when a file is read rather than when Ensemble is imported: it is
 * 72 CommonJS files (≈ 20 ms of start-up) that a library user passing workflow objects, or a
 * CLI run of a valid `.json` file, never needs.
 */
type Yaml = typeof import('yaml');

/**
 * Reads and validates a workflow file. `.json` is parsed as JSON; anything
 * else (`.yaml`, `.yml`, no or unknown extension) as YAML, which also reads
 * JSON. Relative paths in the workflow resolve against the file's folder.
 *
 * Throws `EnsembleError` with code `WORKFLOW_NOT_FOUND`, `YAML_SYNTAX` (with
 * `line`) or `INVALID_WORKFLOW` (see `parseWorkflow`; also for a file that is
 * not a regular file, or is larger than `MAX_WORKFLOW_BYTES`).
 *
 * @example
 * const workflow = await readWorkflowFile('examples/copy.yaml')
 * workflow.file // '/abs/path/examples/copy.yaml'
 */
export async function readWorkflowFile(path: string, options: Pick<ParseWorkflowOptions, 'servers'> = {}): Promise<Workflow> {
  const absolute = resolve(path);
  const text = stripByteOrderMark(await readText(path, absolute));
  const parseOptions = { file: path, dir: dirname(absolute), ...(options.servers ? { servers: options.servers } : {}) };
  if (extname(path).toLowerCase() === '.json') {
    const value = readJson(text, path);
    try {
      return parseWorkflow(value, parseOptions);
    } catch (error) {
      if (!(error instanceof EnsembleError) || error.code !== 'INVALID_WORKFLOW') throw error;
      // Only an invalid file needs line numbers, and JSON is YAML: validate again with a locator.
      const yaml = await import('yaml');
      return parseWorkflow(value, { ...parseOptions, lineOf: locateInText(yaml, text) });
    }
  }
  const source = readYaml(await import('yaml'), text, path);
  return parseWorkflow(source.value, { ...parseOptions, lineOf: source.lineOf });
}

interface Source {
  value: unknown;
  lineOf: (path: FieldPath) => { line: number; column: number } | undefined;
}

/** The largest workflow file read (4 MiB): a workflow is a page of YAML, and `/dev/zero` must not be read to exhaustion. */
export const MAX_WORKFLOW_BYTES = 4 * 1024 * 1024;

/**
 * YAML alias expansions allowed (the `yaml` library's `maxAliasCount`, which
 * multiplies each alias by the aliases inside what it points at). Its default
 * of 100 refused ordinary files that reuse one anchor for many servers; 10,000
 * still stops a "billion laughs" document after a few levels.
 */
export const MAX_YAML_ALIAS_COUNT = 10_000;

/**
 * Reads the file through one descriptor: opened without blocking (a FIFO
 * would otherwise wait for a writer forever), checked with `fstat` to be a
 * regular file of bounded size, then read to at most one byte past the cap
 * (the file may grow after the check).
 */
async function readText(path: string, absolute: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(absolute, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw toReadError(path, error);
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new EnsembleError('WORKFLOW_NOT_FOUND', `${path} is a folder, not a workflow file`, { file: path });
    if (!stats.isFile()) throw new EnsembleError('INVALID_WORKFLOW', `${path} is not a regular file (a pipe, socket or device): a workflow file must be a plain file`, { file: path });
    if (stats.size > MAX_WORKFLOW_BYTES) throw tooLarge(path);
    // Sized by fstat plus one byte, so a file that grew after the check is seen to have grown.
    let buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > MAX_WORKFLOW_BYTES) throw tooLarge(path);
        const grown = Buffer.alloc(Math.min(buffer.length * 2, MAX_WORKFLOW_BYTES + 1));
        buffer.copy(grown);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_WORKFLOW_BYTES) throw tooLarge(path);
    return buffer.toString('utf8', 0, length);
  } catch (error) {
    throw error instanceof EnsembleError ? error : toReadError(path, error);
  } finally {
    await handle.close();
  }
}

function tooLarge(path: string): EnsembleError {
  return new EnsembleError('INVALID_WORKFLOW', `${path} is larger than ${MAX_WORKFLOW_BYTES} bytes, the most a workflow file may hold`, { file: path });
}

function toReadError(path: string, error: unknown): EnsembleError {
  const code = (error as NodeJS.ErrnoException).code;
  const message =
    code === 'ENOENT' || code === 'ENOTDIR'
      ? `workflow file not found: ${path}`
      : code === 'EISDIR'
        ? `${path} is a folder, not a workflow file`
        : `cannot read workflow file ${path}: ${(error as Error).message}`;
  return new EnsembleError('WORKFLOW_NOT_FOUND', message, { file: path, cause: error });
}

/** Editors on Windows like to add one; JSON.parse rejects it. */
function stripByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function readYaml(yaml: Yaml, text: string, file: string): Source {
  const lineCounter = new yaml.LineCounter();
  // Duplicate keys are errors by default (`uniqueKeys`), which is what we want: the last one silently winning hides typos.
  const document = yaml.parseDocument(text, { lineCounter, prettyErrors: true });
  const [error] = document.errors;
  if (error) {
    const position = error.linePos?.[0];
    // With prettyErrors the message ends with " at line L, column C:" and a code excerpt; we report the position ourselves.
    const first = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '');
    const what =
      error.code === 'MULTIPLE_DOCS'
        ? 'a workflow file holds one YAML document, but this one has more (a second "---")'
        : // The parser recurses per level: a document nested hundreds deep overflows its stack.
          /Maximum call stack size exceeded/.test(first)
          ? `nested too deeply (a workflow nests at most ${MAX_NESTING_DEPTH} levels of lists and mappings)`
          : first;
    const where = position ? `line ${position.line}, column ${position.col}: ` : '';
    throw new EnsembleError('YAML_SYNTAX', `${file}: ${where}${what}`, {
      file,
      ...(position ? { line: position.line, column: position.col } : {}),
      cause: error,
    });
  }
  let value: unknown;
  try {
    // An empty file has null contents; `undefined` makes the message say "got nothing" rather than "got null".
    value = document.contents === null ? undefined : document.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (cause) {
    // e.g. too many alias expansions: still a problem with the text, not the workflow.
    throw new EnsembleError('YAML_SYNTAX', `${file}: ${(cause as Error).message}`, { file, cause });
  }
  return { value, lineOf: (path) => findLine(yaml, document, lineCounter, path) };
}

function readJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    const message = (cause as Error).message;
    const line = findJsonErrorLine(message, text);
    throw new EnsembleError('YAML_SYNTAX', `${file}: ${line !== undefined ? `line ${line}: ` : ''}invalid JSON: ${message}`, {
      file,
      ...(line !== undefined ? { line } : {}),
      cause,
    });
  }
}

/** Field path → line, for a text already known to parse. */
function locateInText(yaml: Yaml, text: string): Source['lineOf'] {
  const lineCounter = new yaml.LineCounter();
  const document = yaml.parseDocument(text, { lineCounter });
  return (path) => findLine(yaml, document, lineCounter, path);
}

/** V8 says "… (line L column C)" in newer versions and "… at position N" in older ones. */
function findJsonErrorLine(message: string, text: string): number | undefined {
  const line = /\(line (\d+) column \d+\)/.exec(message);
  if (line) return Number(line[1]);
  const position = /at position (\d+)/.exec(message);
  if (position) return text.slice(0, Number(position[1])).split('\n').length;
  if (/Unexpected end of JSON input/.test(message)) return text.split('\n').length;
  return undefined;
}

/**
 * The line of the deepest node along `path` that exists: the key itself for
 * a mapping entry (an unknown key, a wrong value), or the nearest parent
 * when the field is missing.
 */
function findLine(yaml: Yaml, document: Document, lineCounter: LineCounter, path: FieldPath): { line: number; column: number } | undefined {
  let node: unknown = document.contents;
  let found: Node | undefined = isNode(yaml, node) ? node : undefined;
  for (const segment of path) {
    if (yaml.isMap(node)) {
      const pair = node.items.find((item) => yaml.isPair(item) && yaml.isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      if (isNode(yaml, pair.key)) found = pair.key;
      node = pair.value;
    } else if (yaml.isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      if (!isNode(yaml, node)) break;
      found = node;
    } else {
      break;
    }
  }
  const offset = found?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

function isNode(yaml: Yaml, value: unknown): value is Node {
  return yaml.isMap(value) || yaml.isSeq(value) || yaml.isScalar(value);
}
