/**
 * Command lines and URLs in error messages: secrets are masked, the rest is
 * left as written so a person can still tell which server failed.
 */
import { describe, expect, it } from 'vitest';
import { describeCommand, describeUrl } from '../../actors/describe-command.js';

describe('describeCommand', () => {
  it('keeps ordinary arguments: paths, flags, package names', () => {
    expect(describeCommand('npx', ['-y', '@modelcontextprotocol/server-filesystem', '/home/me/project', '--read-only'])).toBe(
      'npx -y @modelcontextprotocol/server-filesystem /home/me/project --read-only',
    );
  });

  it.each([
    [['--token', 'abc123'], '--token ***'],
    [['--api-key', 'whatever'], '--api-key ***'],
    [['--password=hunter2'], '--password=***'],
    [['GITHUB_TOKEN=abc'], 'GITHUB_TOKEN=***'],
    [['sk-ant-api03-abcdefghijklmnop'], '***'],
    [['ghp_abcdefghijklmnopqrstuvwxyz0123'], '***'],
    [['AKIAABCDEFGHIJKLMNOP'], '***'],
    [['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig'], '***'],
    [['0123456789abcdef0123456789abcdef01'], '***'],
    [['https://user:pa55@example.com/mcp'], 'https://***@example.com/mcp'],
    [['-H', 'Authorization: Bearer abc.def'], '-H Authorization: ***'],
    [['-c', 'API_KEY=abc node server.js'], '-c API_KEY=*** node server.js'],
  ])('masks the secret in %j', (args, shown) => {
    expect(describeCommand('cmd', args)).toBe(`cmd ${shown}`);
  });

  it('cuts a very long argument (an inline script)', () => {
    const shown = describeCommand('node', ['-e', 'x'.repeat(500)]);
    expect(shown.length).toBeLessThan(140);
    expect(shown.endsWith('…')).toBe(true);
  });
});

describe('describeUrl', () => {
  it('masks userinfo and secret query values, keeps the rest', () => {
    expect(describeUrl('https://me:secret@mcp.example.com/mcp?token=abc&region=eu')).toBe('https://***@mcp.example.com/mcp?token=***&region=eu');
  });
});
