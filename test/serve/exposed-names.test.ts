import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignExposedNames, DEFAULT_NAMING, toExposedName, toNamingOptions, toShortenedName } from '../../src/serve/exposed-names.js';

const SAFE = /^[A-Za-z0-9_-]+$/;

describe('exposed tool names', () => {
  it('are server__tool when that fits and uses safe characters', () => {
    expect(toExposedName('fs', 'read_file', DEFAULT_NAMING)).toBe('fs__read_file');
    expect(toExposedName('fs', 'read_file', { ...DEFAULT_NAMING, separator: '-' })).toBe('fs-read_file');
  });

  it('shortens a 100-character name to 64 with a hash of the original, the same every time', () => {
    const tool = 'x'.repeat(100);
    const name = toExposedName('fs', tool, DEFAULT_NAMING);
    expect(name).toHaveLength(64);
    expect(name).toMatch(/^fs__x+_[0-9a-f]{8}$/);
    expect(toExposedName('fs', tool, DEFAULT_NAMING)).toBe(name);
    expect(toExposedName('fs', `${'x'.repeat(99)}y`, DEFAULT_NAMING)).not.toBe(name);
  });

  it('leaves room for a client prefix (Claude Code counts its own mcp__<server>__)', () => {
    const naming = toNamingOptions({ reservePrefix: 'mcp__ensemble__'.length });
    const name = toExposedName('github', 'create_pull_request_review_comment_reply', naming);
    expect(name.length).toBeLessThanOrEqual(64 - 15);
    expect(`mcp__ensemble__${name}`.length).toBeLessThanOrEqual(64);
  });

  it('replaces characters outside [A-Za-z0-9_-] and keeps odd names apart', () => {
    const dotted = toExposedName('api', 'user.get', DEFAULT_NAMING);
    const slashed = toExposedName('api', 'user/get', DEFAULT_NAMING);
    expect(dotted).toMatch(SAFE);
    expect(dotted).toMatch(/^api__user_get_[0-9a-f]{8}$/);
    expect(dotted).not.toBe(slashed);
  });

  it('gives colliding names distinct exposures, whatever order the backends answered in', () => {
    const entries = [
      { server: 'a', name: 'b__c' },
      { server: 'a__b', name: 'c' },
      { server: 'a', name: 'echo' },
    ];
    const forward = [...assignExposedNames(entries, DEFAULT_NAMING).entries()];
    const backward = [...assignExposedNames([...entries].reverse(), DEFAULT_NAMING).entries()];
    expect(forward).toEqual(backward);
    expect(forward.map(([name]) => name)).toEqual(['a__b__c', 'a__echo', toShortenedName('a__b', 'c', DEFAULT_NAMING)]);
  });

  it('never exposes a reserved name (the aggregator’s own tools)', () => {
    const exposed = assignExposedNames([{ server: 'ensemble', name: 'status' }], { ...DEFAULT_NAMING, separator: '_' }, new Set(['ensemble_status']));
    expect([...exposed.keys()]).toEqual([toShortenedName('ensemble', 'status', { ...DEFAULT_NAMING, separator: '_' })]);
  });

  it('are always safe, within the limit and distinct for distinct inputs (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$/), fc.string({ minLength: 1, maxLength: 120 })), { selector: ([server, name]) => `${server}\u0000${name}`, maxLength: 20 }), (pairs) => {
        const exposed = assignExposedNames(pairs.map(([server, name]) => ({ server, name })), DEFAULT_NAMING);
        expect(exposed.size).toBe(pairs.length);
        for (const name of exposed.keys()) {
          expect(name).toMatch(SAFE);
          expect(name.length).toBeLessThanOrEqual(64);
        }
      }),
    );
  });

  it('refuse a limit too small for a readable name and a separator clients would refuse', () => {
    expect(() => toNamingOptions({ maxToolNameLength: 64, reservePrefix: 60 })).toThrow(/at least 16/);
    expect(() => toNamingOptions({ separator: '.' })).toThrow(/separator/);
  });
});
