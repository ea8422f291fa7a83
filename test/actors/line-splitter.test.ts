/**
 * The line splitter behind stdout and stderr: lines come out whole, a line
 * past the cap is cut (and its overflow reported once), and what it holds
 * never exceeds the cap however the bytes are chunked.
 */
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../actors/line-splitter.js';

function collect(maxLineBytes: number) {
  const lines: [string, boolean][] = [];
  let overflows = 0;
  const splitter = new LineSplitter({ maxLineBytes, onLine: (line, truncated) => lines.push([line, truncated]), onOverflow: () => overflows++ });
  return { splitter, lines, overflows: () => overflows };
}

describe('LineSplitter', () => {
  it('splits lines across chunks and strips a trailing \\r', () => {
    const { splitter, lines } = collect(100);
    for (const chunk of ['ab', 'c\r\nde', 'f\n\ng', 'h']) splitter.push(Buffer.from(chunk));
    expect(lines).toEqual([
      ['abc', false],
      ['def', false],
      ['', false],
    ]);
    expect(splitter.pending).toBe('gh');
  });

  it('keeps a multi-byte character split across chunks intact', () => {
    const { splitter, lines } = collect(100);
    const bytes = Buffer.from('héllo\n');
    splitter.push(bytes.subarray(0, 2));
    splitter.push(bytes.subarray(2));
    expect(lines).toEqual([['héllo', false]]);
  });

  it('regression: a line that never ends holds at most maxLineBytes, fed one byte at a time', () => {
    const { splitter, overflows } = collect(64);
    const byte = Buffer.from('x');
    for (let i = 0; i < 100_000; i++) splitter.push(byte);
    expect(splitter.pendingBytes).toBe(64);
    expect(overflows()).toBe(1);
  });

  it('cuts an over-long line at the cap, marks it truncated, and reports its overflow once per line', () => {
    const { splitter, lines, overflows } = collect(4);
    splitter.push(Buffer.from('abcdefgh\nij\nklmnop\n'));
    expect(lines).toEqual([
      ['abcd', true],
      ['ij', false],
      ['klmn', true],
    ]);
    expect(overflows()).toBe(2);
  });

  it('takes a line of exactly maxLineBytes without overflow', () => {
    const { splitter, lines, overflows } = collect(4);
    splitter.push(Buffer.from('abcd\n'));
    expect(lines).toEqual([['abcd', false]]);
    expect(overflows()).toBe(0);
  });
});
