import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServeConfig, readServeConfig } from '../../src/serve/serve-config.js';
import { isToolAllowed } from '../../src/serve/tool-filter.js';
import { createTempDir } from '../support/fixture.js';
import { writeConfig } from './serve-client.js';

describe('serve config', () => {
  it('reads the mcpServers JSON that Claude Code, Claude Desktop and Cursor write', () => {
    const temp = createTempDir();
    try {
      const file = writeConfig(temp.dir, {
        mcpServers: {
          fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'], env: { DEBUG: '1' } },
          api: { type: 'http', url: 'http://127.0.0.1:8931/mcp', headers: { Authorization: 'Bearer x' } },
          plain: { type: 'stdio', command: 'node', args: ['server.js'] },
        },
      });
      const config = readServeConfig(file);
      expect(config.servers.fs).toMatchObject({ kind: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'], env: { DEBUG: '1' }, cwd: temp.dir, start: 'eager' });
      expect(config.servers.api).toMatchObject({ kind: 'http', url: 'http://127.0.0.1:8931/mcp', headers: { Authorization: 'Bearer x' } });
      expect(config.servers.plain).toMatchObject({ kind: 'stdio', command: 'node' });
      // Backends come back after a death by default.
      expect(config.servers.fs?.recovery).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 });
    } finally {
      temp.remove();
    }
  });

  it('reads servers as workflow files have them, with allow/deny lists and options', () => {
    const config = parseServeConfig(
      { servers: { fix: { command: 'node', args: ['./fixture.mjs'], allow: ['echo', 'read_*'], deny: ['read_secret'], recovery: { maxAttempts: 3 } } }, separator: '-', pinFile: 'pins.json' },
      { dir: '/srv/flows' },
    );
    expect(config.servers.fix).toMatchObject({ args: ['/srv/flows/fixture.mjs'], recovery: { maxAttempts: 3 } });
    expect(config.filters).toEqual({ fix: { allow: ['echo', 'read_*'], deny: ['read_secret'] } });
    expect(config.separator).toBe('-');
    expect(config.pinFile).toBe(join('/srv/flows', 'pins.json'));
  });

  it('regression: a config that is a FIFO or a device is refused at once, naming the file, instead of hanging or reading without end', () => {
    const temp = createTempDir();
    try {
      const fifo = join(temp.dir, 'servers.json');
      execFileSync('mkfifo', [fifo]);
      expect(() => readServeConfig(fifo)).toThrow(`cannot read serve config ${fifo}: it is not a regular file`);
      expect(() => readServeConfig('/dev/zero')).toThrow('cannot read serve config /dev/zero: it is not a regular file');
    } finally {
      temp.remove();
    }
  });

  it('names the field of a mistake', () => {
    expect(() => parseServeConfig({ mcpServers: { fs: { comand: 'npx' } } }, { dir: '/' })).toThrow(/servers\.fs/);
    expect(() => parseServeConfig({ mcpServers: { old: { type: 'sse', url: 'http://x/sse' } } }, { dir: '/' })).toThrow(/mcpServers\.old\.type/);
    expect(() => parseServeConfig({ servers: {}, mcpServers: {} }, { dir: '/' })).toThrow(/exactly one of/);
    expect(() => parseServeConfig({ servers: {}, seperator: '-' }, { dir: '/' })).toThrow(/unknown key in serve config: seperator/);
    expect(() => parseServeConfig({ servers: { a: { command: 'x', allow: 'echo' } } }, { dir: '/' })).toThrow(/servers\.a\.allow/);
  });
});

describe('allow and deny lists', () => {
  it('let a tool through when allow matches (or is absent) and no deny does', () => {
    const filter = { allow: ['read_*', 'echo'], deny: ['read_secret*'] };
    expect(isToolAllowed(filter, 'echo')).toBe(true);
    expect(isToolAllowed(filter, 'read_file')).toBe(true);
    expect(isToolAllowed(filter, 'read_secret_key')).toBe(false);
    expect(isToolAllowed(filter, 'write_file')).toBe(false);
    expect(isToolAllowed({ deny: ['*_file'] }, 'write_file')).toBe(false);
    expect(isToolAllowed({ deny: ['*_file'] }, 'echo')).toBe(true);
    expect(isToolAllowed({ allow: ['a*b*c'] }, 'abc')).toBe(true);
    expect(isToolAllowed({ allow: ['a*b*c'] }, 'ac')).toBe(false);
    expect(isToolAllowed(undefined, 'anything')).toBe(true);
  });
});
