/**
 * When the CLI writes colour: on a TTY only, `NO_COLOR` off, `FORCE_COLOR` on anywhere (and
 * `FORCE_COLOR=0` off), `TERM=dumb` off. A pure decision, so a unit test: a real TTY cannot be
 * had in CI, and the CLI tests check that pipes get no escapes.
 */
import { describe, expect, it } from 'vitest';
import { createPaint, isColourWanted } from '../../src/cli/colour.js';

const tty = { isTTY: true };
const pipe = { isTTY: false };

describe('colour', () => {
  it.each([
    ['a TTY', tty, {}, true],
    ['a pipe', pipe, {}, false],
    ['a TTY with NO_COLOR', tty, { NO_COLOR: '1' }, false],
    ['a TTY with an empty NO_COLOR (unset, per no-color.org)', tty, { NO_COLOR: '' }, true],
    ['a pipe with FORCE_COLOR', pipe, { FORCE_COLOR: '1' }, true],
    ['a TTY with FORCE_COLOR=0', tty, { FORCE_COLOR: '0' }, false],
    ['a pipe with FORCE_COLOR and NO_COLOR', pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }, false],
    ['a TTY with TERM=dumb', tty, { TERM: 'dumb' }, false],
    ['TERM=dumb with FORCE_COLOR', pipe, { TERM: 'dumb', FORCE_COLOR: '1' }, true],
  ])('%s', (_, stream, env, wanted) => {
    expect(isColourWanted(stream, env)).toBe(wanted);
  });

  it('paints only when wanted', () => {
    expect(createPaint(pipe, {}).red('x')).toBe('x');
    expect(createPaint(tty, {}).red('x')).toMatch(/^\u001b\[31mx\u001b\[39m$/);
  });
});
