/**
 * The options of one command, as the CLI's commands declare them (citty's `args` shape), and
 * the check citty does not make: every flag given must be one the command has. An unknown flag
 * is a usage error with a suggestion, never silently ignored (`--jsn` must not run a workflow
 * without `--json`).
 */
import type { ArgDef, ArgsDef } from 'citty';
import { EnsembleError } from '../core/errors.js';
import { suggest } from './suggest.js';

/** Throws `USAGE` for the first unknown flag, a string option without a value, a missing or an extra positional. */
export function checkCommandArgs(command: string, options: ArgsDef, rawArgs: readonly string[]): void {
  const flags = Object.entries(options).filter(([, spec]) => spec.type !== 'positional');
  const longNames = flags.flatMap(([name, spec]) => (spec.type === 'boolean' ? [name, `no-${name}`] : [name]));
  const positionals = Object.values(options).filter((spec) => spec.type === 'positional').length;
  let seenPositionals = 0;
  for (let index = 0; index < rawArgs.length; index += 1) {
    const token = rawArgs[index]!;
    if (token === '--') {
      seenPositionals += rawArgs.length - index - 1;
      break;
    }
    if (token.startsWith('--')) {
      const [name = '', value] = splitOnce(token.slice(2), '=');
      const spec = findOption(options, name);
      if (!spec) throw unknownFlag(command, `--${name}`, longNames.map((long) => `--${long}`));
      if ((spec.type === 'string' || spec.type === 'enum') && value === undefined) {
        const next = rawArgs[index + 1];
        if (next === undefined || next.startsWith('-')) throw new EnsembleError('USAGE', `${command}: --${name} needs a value`, { field: `--${name}` });
        index += 1;
      }
      continue;
    }
    if (token.startsWith('-') && token.length > 1) {
      const letter = token.slice(1, 2);
      const entry = flags.find(([, spec]) => aliasesOf(spec).includes(letter));
      if (!entry) throw unknownFlag(command, token, flags.flatMap(([, spec]) => aliasesOf(spec).map((alias) => `-${alias}`)));
      if ((entry[1].type === 'string' || entry[1].type === 'enum') && token.length === 2) index += 1;
      continue;
    }
    seenPositionals += 1;
  }
  const required = Object.entries(options).filter(([, spec]) => spec.type === 'positional' && spec.required === true);
  const missing = required[seenPositionals];
  if (missing) throw new EnsembleError('USAGE', `${command}: missing <${missing[0]}>; see \`ensemble ${command} --help\``, { field: missing[0] });
  if (seenPositionals > positionals) {
    throw new EnsembleError('USAGE', `${command}: expected ${positionals === 0 ? 'no' : `at most ${positionals}`} argument${positionals === 1 ? '' : 's'} besides options, got ${seenPositionals}`);
  }
}

function findOption(options: ArgsDef, name: string): ArgDef | undefined {
  const own = Object.hasOwn(options, name) ? options[name] : undefined;
  if (own && own.type !== 'positional') return own;
  if (name.startsWith('no-')) {
    const negated = Object.hasOwn(options, name.slice(3)) ? options[name.slice(3)] : undefined;
    if (negated?.type === 'boolean') return negated;
  }
  return undefined;
}

function unknownFlag(command: string, flag: string, known: string[]): EnsembleError {
  const guess = suggest(flag, known);
  const hint = guess ? ` (did you mean ${guess}?)` : '';
  return new EnsembleError('USAGE', `${command}: unknown option ${flag}${hint}; see \`ensemble ${command} --help\``, { field: flag });
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function aliasesOf(spec: ArgDef): string[] {
  if (!('alias' in spec) || spec.alias === undefined) return [];
  return Array.isArray(spec.alias) ? spec.alias : [spec.alias];
}
