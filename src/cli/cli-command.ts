/**
 * One `ensemble` command: its usage line, its options (citty's `args` shape, which citty parses)
 * and what it does. Each command lives in its own module, loaded only when it runs, so
 * `ensemble --help` never loads the engine.
 */
import { parseArgs, type ArgsDef, type ParsedArgs } from 'citty';

export interface CliCommand<T extends ArgsDef = ArgsDef> {
  name: string;
  /** After `ensemble `: `run <file> [options]`. */
  usage: string;
  summary: string;
  options: T;
  /** Lines shown under "Examples" in the command's help. */
  examples?: string[];
  run(args: ParsedArgs<T>): Promise<void>;
}

/** Keeps a command's option names and types through to its `run`. */
export function defineCliCommand<const T extends ArgsDef>(command: CliCommand<T>): CliCommand<T> {
  return command;
}

/** A command as the dispatcher holds it: its options widened, its run taking the raw arguments. */
export interface LoadedCommand {
  name: string;
  usage: string;
  summary: string;
  options: ArgsDef;
  examples?: string[];
  runWith(rawArgs: string[]): Promise<void>;
}

export function toLoadedCommand<T extends ArgsDef>(command: CliCommand<T>): LoadedCommand {
  const { run, ...described } = command;
  return { ...described, runWith: (rawArgs) => run(parseArgs<T>(rawArgs, command.options)) };
}
