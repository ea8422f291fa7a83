/**
 * The `ensemble` command line: a table of commands, each loaded only when it runs, so `--help`
 * and `--version` answer without loading the engine.
 *
 *   ensemble run <file> [--json] [--quiet] [--pattern p]
 *   ensemble explain <file> [--json] [--pattern p]
 *   ensemble tools <file> [--server s] [--json]
 *   ensemble serve --config <file> [--http host:port] [--accept-changed]
 *   ensemble inspect <trace.jsonl> [--port N]
 *   ensemble help [command]
 */
import process from 'node:process';
import { EnsembleError, toErrorInfo } from '../core/errors.js';
import { toLoadedCommand, type LoadedCommand } from './cli-command.js';
import { createPaint } from './colour.js';
import { checkCommandArgs } from './command-args.js';
import { EXIT, exitCodeOfError } from './exit-codes.js';
import { suggest } from './suggest.js';
import { formatCommandUsage, formatMainUsage, type CommandSummary } from './usage.js';
import { readVersion } from './version.js';

interface CommandEntry extends CommandSummary {
  load(): Promise<LoadedCommand>;
}

const COMMANDS: Record<string, CommandEntry> = {
  run: { usage: 'run <file> [options]', summary: 'Run a workflow file (YAML or JSON) and print its output', load: async () => toLoadedCommand((await import('./run-command.js')).runCommand) },
  explain: { usage: 'explain <file> [options]', summary: 'Show which pattern a workflow would run with, and why, without starting anything', load: async () => toLoadedCommand((await import('./explain-command.js')).explainCommand) },
  tools: { usage: 'tools <file> [options]', summary: "List each server's tools with their input schemas (starts the servers, runs nothing)", load: async () => toLoadedCommand((await import('./tools-command.js')).toolsCommand) },
  serve: { usage: 'serve --config <file> [options]', summary: 'Serve every server of a config as one MCP server (stdio, or Streamable HTTP with --http)', load: async () => toLoadedCommand((await import('./serve-command.js')).serveCommand) },
  inspect: { usage: 'inspect <trace.jsonl> [options]', summary: 'Open the inspector page on a trace written by run --trace, with a scrubber', load: async () => toLoadedCommand((await import('./inspect-command.js')).inspectCommand) },
  help: { usage: 'help [command]', summary: 'Show help for a command', load: () => Promise.reject(new Error('help is answered by the CLI itself')) },
};

const HELP_FLAGS = new Set(['--help', '-h']);

export async function runCli(rawArgs: string[]): Promise<void> {
  try {
    await dispatch(rawArgs);
  } catch (error) {
    process.stderr.write(`ensemble: ${toErrorInfo(error).message}\n`);
    process.exitCode = exitCodeOfError(error);
  }
}

async function dispatch(rawArgs: string[]): Promise<void> {
  const [first, ...rest] = rawArgs;
  if (first === undefined) {
    process.stderr.write(formatMainUsage(readVersion(), COMMANDS, createPaint(process.stderr)));
    process.exitCode = EXIT.input;
    return;
  }
  if (HELP_FLAGS.has(first)) return printMainUsage();
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${readVersion()}\n`);
    return;
  }
  if (first === 'help') return printHelp(rest);
  if (first.startsWith('-')) {
    const guess = suggest(first, ['--help', '--version']);
    throw new EnsembleError('USAGE', `unknown option ${first}${guess ? ` (did you mean ${guess}?)` : ''}; a command comes first: ensemble <command> [options]`, { field: first });
  }
  const command = await findCommand(first);
  const own = rest.indexOf('--') === -1 ? rest : rest.slice(0, rest.indexOf('--'));
  if (own.some((arg) => HELP_FLAGS.has(arg))) {
    process.stdout.write(formatCommandUsage(command, createPaint(process.stdout)));
    return;
  }
  checkCommandArgs(command.name, command.options, rest);
  await command.runWith(rest);
}

async function printHelp(rest: string[]): Promise<void> {
  // `help --help` is a question about help itself, which the main usage answers.
  if (rest.some((arg) => HELP_FLAGS.has(arg))) return printMainUsage();
  const option = rest.find((arg) => arg.startsWith('-'));
  if (option !== undefined) throw new EnsembleError('USAGE', `help: unknown option ${option}; see \`ensemble help\``, { field: option });
  if (rest.length > 1) throw new EnsembleError('USAGE', `help: expected at most one command, got ${rest.length} (${rest.join(' ')})`);
  const [name] = rest;
  if (name === undefined || name === 'help') return printMainUsage();
  const command = await findCommand(name);
  process.stdout.write(formatCommandUsage(command, createPaint(process.stdout)));
}

function printMainUsage(): void {
  process.stdout.write(formatMainUsage(readVersion(), COMMANDS, createPaint(process.stdout)));
}

async function findCommand(name: string): Promise<LoadedCommand> {
  const found = Object.hasOwn(COMMANDS, name) && name !== 'help' ? COMMANDS[name] : undefined;
  if (!found) {
    const guess = suggest(name, Object.keys(COMMANDS));
    throw new EnsembleError('USAGE', `unknown command "${name}"${guess ? ` (did you mean ${guess}?)` : ''}; commands: ${Object.keys(COMMANDS).join(', ')}`, { field: name });
  }
  return found.load();
}

await runCli(process.argv.slice(2));
// The command has answered. If something still holds the event loop (a file operation stuck in
// the kernel, say a hung network mount, which no abort can end), leave anyway once stdout has
// had time to drain; unref'd, this timer never delays a process that ends by itself.
setTimeout(() => process.exit(), 2000).unref();
