/**
 * Help text: the top-level usage (commands only, from a table that needs no command loaded) and
 * each command's own usage with every option it takes.
 */
import type { ArgDef, ArgsDef } from 'citty';
import type { Paint } from './colour.js';

export interface CommandSummary {
  usage: string;
  summary: string;
}

const GLOBAL_OPTIONS: Array<[string, string]> = [
  ['-h, --help', 'show help (also `ensemble help <command>`)'],
  ['-v, --version', 'print the version'],
];

export function formatMainUsage(version: string, commands: Record<string, CommandSummary>, paint: Paint): string {
  const lines = [
    `ensemble ${version} — coordinate MCP servers with statecharts`,
    '',
    `${paint.bold('Usage:')} ensemble <command> [options]`,
    '',
    paint.bold('Commands:'),
    ...columns(Object.values(commands).map((command) => [command.usage.replace(/ \[options\]$/, ''), command.summary])),
    '',
    paint.bold('Options:'),
    ...columns(GLOBAL_OPTIONS),
    '',
    'Run `ensemble <command> --help` for the options of a command.',
  ];
  return `${lines.join('\n')}\n`;
}

export function formatCommandUsage(command: CommandSummary & { options: ArgsDef; examples?: string[] }, paint: Paint): string {
  const entries = Object.entries(command.options);
  const positionals = entries.filter(([, spec]) => spec.type === 'positional');
  const flags = entries.filter(([, spec]) => spec.type !== 'positional');
  const lines = [`${paint.bold('Usage:')} ensemble ${command.usage}`, '', command.summary];
  if (positionals.length > 0) {
    lines.push('', paint.bold('Arguments:'), ...columns(positionals.map(([name, spec]) => [`<${name}>`, describe(spec)])));
  }
  lines.push('', paint.bold('Options:'), ...columns([...flags.map(([name, spec]): [string, string] => [flagLabel(name, spec), describe(spec)]), ['-h, --help', 'show this help']]));
  if (command.examples && command.examples.length > 0) lines.push('', paint.bold('Examples:'), ...command.examples.map((example) => `  ${example}`));
  return `${lines.join('\n')}\n`;
}

function flagLabel(name: string, spec: ArgDef): string {
  const aliases = !('alias' in spec) || spec.alias === undefined ? [] : Array.isArray(spec.alias) ? spec.alias : [spec.alias];
  const short = aliases.map((alias) => `-${alias}, `).join('');
  const value = spec.type === 'string' || spec.type === 'enum' ? ` <${spec.valueHint ?? 'value'}>` : '';
  return `${short}--${name}${value}`;
}

function describe(spec: ArgDef): string {
  const base = spec.description ?? '';
  return spec.type !== 'boolean' && typeof spec.default === 'string' ? `${base} (default: ${spec.default})` : base;
}

function columns(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}
