/**
 * The environment a stdio server starts with.
 *
 * Not Ensemble's own: that holds API keys and cloud credentials a server has
 * no business seeing. Like the SDK's own stdio transport, a server gets the
 * SDK's short allowlist (`getDefaultEnvironment()`: HOME, LOGNAME, PATH,
 * SHELL, TERM, USER on POSIX), then the variables it is allowed by name
 * (`passEnv`), then what the workflow declares (`env`), which wins.
 * `inheritEnv: true` starts from the whole environment instead.
 */
import process from 'node:process';

export interface ServerEnvironmentConfig {
  /** Declared in the workflow; wins over everything else. */
  env: Record<string, string>;
  /** Start from Ensemble's whole environment rather than the SDK's allowlist. */
  inheritEnv?: boolean;
  /** Names of Ensemble's variables to pass on; a name that is not set is skipped. */
  passEnv?: readonly string[];
}

/**
 * @example
 * await createServerEnvironment({ env: { DEBUG: '1' }, passEnv: ['ANTHROPIC_API_KEY'] })
 * // { HOME, PATH, …, ANTHROPIC_API_KEY, DEBUG: '1' }
 */
export async function createServerEnvironment(config: ServerEnvironmentConfig): Promise<Record<string, string>> {
  const parent = process.env;
  // Loaded when the first server starts: the SDK's stdio client module (and cross-spawn with it)
  // costs ≈ 14 ms to import, which `ensemble --help` and workflow checks need not pay.
  const { getDefaultEnvironment } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const environment: Record<string, string> = config.inheritEnv ? definedOnly(parent) : getDefaultEnvironment();
  for (const name of config.passEnv ?? []) {
    const value = parent[name];
    if (value !== undefined) environment[name] = value;
  }
  return { ...environment, ...config.env };
}

function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  return out;
}
