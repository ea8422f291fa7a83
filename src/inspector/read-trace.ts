/**
 * Reads a trace written by `--trace`: one JSON event per line. A line that is not a JSON object
 * with a string `type` is a bad trace, named by its line number.
 */
import { readFile } from 'node:fs/promises';
import { EnsembleError } from '../core/errors.js';
import type { FeedEvent } from './inspector-model.js';

export async function readTrace(file: string): Promise<FeedEvent[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new EnsembleError('WORKFLOW_NOT_FOUND', `cannot read the trace ${file}`, { file, cause: error });
  }
  const events: FeedEvent[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]?.trim();
    if (!line) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new EnsembleError('USAGE', `${file}:${index + 1}: not a JSON line of a trace`, { file, cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || !('type' in parsed) || typeof parsed.type !== 'string') {
      throw new EnsembleError('USAGE', `${file}:${index + 1}: a trace line is an event object with a "type"`, { file });
    }
    events.push({ ...parsed, type: parsed.type });
  }
  return events;
}
