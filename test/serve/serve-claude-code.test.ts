/**
 * Claude Code on both sides of `ensemble serve`: as the client (`claude mcp
 * add` registers serve, `claude mcp list` starts it and reports it connected)
 * and as a backend (`claude mcp serve`, its Write and Read called through the
 * aggregator). Offline, with a throwaway HOME.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createTempDir, FIXTURE_SERVER, ROOT } from '../support/fixture.js';
import { connectStdio, namesOf, SERVE_ENTRY, textOf, writeConfig } from './serve-client.js';

const CLAUDE = join(ROOT, 'node_modules/.bin/claude');
const run = promisify(execFile);

describe('ensemble serve with Claude Code', () => {
  const temp = createTempDir('ensemble-serve-claude-');
  const home = join(temp.dir, 'home');
  const workspace = join(temp.dir, 'workspace');
  mkdirSync(home);
  mkdirSync(workspace);
  const claudeEnv = { HOME: home, CLAUDE_CONFIG_DIR: join(home, '.claude'), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };

  afterAll(() => temp.remove());

  it('is registered with `claude mcp add` and reported connected by `claude mcp list`', async () => {
    const config = writeConfig(temp.dir, { mcpServers: { fix: { command: process.execPath, args: [FIXTURE_SERVER] } } }, 'client.json');
    const env = { PATH: process.env.PATH ?? '', ...claudeEnv };
    await run(CLAUDE, ['mcp', 'add', 'ensemble', '--', process.execPath, '--import', 'tsx', SERVE_ENTRY, '--config', config], { cwd: ROOT, env });
    const { stdout } = await run(CLAUDE, ['mcp', 'list'], { cwd: ROOT, env });
    expect(stdout).toMatch(/ensemble: .*serve-entry\.ts --config .*client\.json - ✔ Connected/);
  });

  it("serves Claude Code's own tools (claude mcp serve) as claude__Write and claude__Read", async () => {
    const config = writeConfig(temp.dir, { mcpServers: { claude: { command: CLAUDE, args: ['mcp', 'serve'], cwd: workspace, env: claudeEnv, allow: ['Read', 'Write', 'Edit'] } } }, 'backend.json');
    const served = await connectStdio(config);
    try {
      expect(namesOf(served.tools()).sort()).toEqual(['claude__Edit', 'claude__Read', 'claude__Write', 'ensemble_explain', 'ensemble_run', 'ensemble_status']);
      const file = join(workspace, 'note.txt');
      const written = await served.client.callTool({ name: 'claude__Write', arguments: { file_path: file, content: 'written through ensemble serve' } });
      expect(written.isError).not.toBe(true);
      expect(readFileSync(file, 'utf8')).toBe('written through ensemble serve');
      const read = await served.client.callTool({ name: 'claude__Read', arguments: { file_path: file } });
      expect(textOf(read)).toContain('written through ensemble serve');
    } finally {
      await served.close();
    }
  });
});
