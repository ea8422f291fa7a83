import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { and, createMachine, fromPromise, not, setup } from 'xstate';
import { machineRegistry } from '../../machines/index.js';
import { toMermaid } from '../../src/diagrams/to-mermaid.js';

const DIAGRAMS_DIR = fileURLToPath(new URL('../../diagrams/', import.meta.url));

/** Output lines, trimmed, with Mermaid entity codes decoded (`#58;` → `:`). */
function linesOf(diagram: string): string[] {
  return diagram
    .split('\n')
    .map((line) => line.trim().replace(/#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))))
    .filter((line) => line !== '');
}

const noop = () => {};

describe('toMermaid', () => {
  it('wraps the machine in a composite state entered from [*]', () => {
    const machine = createMachine({ id: 'light', initial: 'green', states: { green: { on: { NEXT: 'red' } }, red: {} } });

    expect(toMermaid(machine)).toBe(
      [
        'stateDiagram-v2',
        '  [*] --> light',
        '  state "light" as light{',
        '    [*] --> light_green',
        '    state "green" as light_green',
        '    state "red" as light_red',
        '    light_green --> light_red : NEXT',
        '  }',
        '',
      ].join('\n'),
    );
  });

  it('nests compound states as blocks with their own initial edge, ids built from the path', () => {
    const machine = createMachine({
      id: 'job',
      initial: 'running',
      states: {
        running: {
          initial: 'fetch',
          states: { fetch: { on: { FETCHED: 'save' } }, save: {} },
        },
        done: { type: 'final' },
      },
    });
    const lines = linesOf(toMermaid(machine));

    expect(lines).toContain('state "running" as job_running{');
    expect(lines).toContain('[*] --> job_running_fetch');
    expect(lines).toContain('state "fetch" as job_running_fetch');
    expect(lines).toContain('job_running_fetch --> job_running_save : FETCHED');
  });

  it('writes an edge that crosses blocks at the top level, after every block', () => {
    // Mermaid moves a state into the block that last mentions it: written
    // inside a block, this edge would pull job_done into job_running.
    const machine = createMachine({
      id: 'job',
      initial: 'running',
      states: {
        running: { initial: 'fetch', states: { fetch: { on: { FETCHED: 'save' } }, save: { on: { SAVED: '#job.done' } } } },
        done: { type: 'final' },
      },
    });
    const lines = linesOf(toMermaid(machine));
    const rootClose = lines.lastIndexOf('}');

    expect(lines.indexOf('job_running_fetch --> job_running_save : FETCHED')).toBeLessThan(rootClose);
    expect(lines.slice(rootClose + 1)).toEqual(['job_running_save --> job_done : SAVED']);
  });

  it('keeps repeated keys apart: same key under different parents gets different ids', () => {
    const machine = createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: { initial: 'idle', states: { idle: {} } },
        b: { initial: 'idle', states: { idle: {} } },
      },
    });
    const lines = linesOf(toMermaid(machine));

    expect(lines).toContain('state "idle" as m_a_idle');
    expect(lines).toContain('state "idle" as m_b_idle');
  });

  it('draws final states as an edge to [*] inside their parent block', () => {
    const machine = createMachine({
      id: 'm',
      initial: 'work',
      states: {
        work: { initial: 'step', states: { step: { on: { END: 'end' } }, end: { type: 'final' } } },
        finished: { type: 'final' },
      },
    });
    const lines = linesOf(toMermaid(machine));
    const workClose = lines.indexOf('}', lines.indexOf('state "work" as m_work{'));

    expect(lines.indexOf('m_work_end --> [*]')).toBeLessThan(workClose);
    expect(lines.indexOf('m_finished --> [*]')).toBeGreaterThan(workClose);
  });

  it('separates the regions of a parallel state with -- and labels the join onDone', () => {
    const machine = createMachine({
      id: 'fan',
      initial: 'both',
      states: {
        both: {
          type: 'parallel',
          states: {
            left: { initial: 'busy', states: { busy: { on: { L: 'ok' } }, ok: { type: 'final' } } },
            right: { initial: 'busy', states: { busy: { on: { R: 'ok' } }, ok: { type: 'final' } } },
          },
          onDone: 'joined',
        },
        joined: {},
      },
    });
    const lines = linesOf(toMermaid(machine));
    const open = lines.indexOf('state "both" as fan_both{');
    const left = lines.indexOf('state "left" as fan_both_left{');
    const divider = lines.indexOf('--');
    const right = lines.indexOf('state "right" as fan_both_right{');

    expect([open, left, divider, right].every((index) => index >= 0)).toBe(true);
    expect(open).toBeLessThan(left);
    expect(left).toBeLessThan(divider);
    expect(divider).toBeLessThan(right);
    expect(lines[open + 1]).toBe('state "left" as fan_both_left{'); // no [*] edge into a parallel state
    expect(lines).toContain('fan_both --> fan_joined : onDone');
    expect(lines).toContain('fan_both_left_ok --> [*]');
  });

  it('labels guarded alternatives event [guard], one edge per alternative in definition order', () => {
    const machine = setup({
      guards: { isValid: () => true, isAdmin: () => true, isBanned: () => false },
    }).createMachine({
      id: 'form',
      initial: 'editing',
      states: {
        editing: {
          on: {
            SUBMIT: [
              { guard: 'isValid', target: 'sent' },
              { guard: and([{ type: 'isAdmin' }, not('isBanned')]), target: 'review' },
              { guard: ({ context }) => context !== undefined, target: 'review' },
              { target: 'invalid' },
            ],
          },
        },
        sent: {},
        review: {},
        invalid: {},
      },
    });
    const lines = linesOf(toMermaid(machine));
    const submits = lines.filter((line) => line.includes(': SUBMIT'));

    expect(submits).toEqual([
      'form_editing --> form_sent : SUBMIT [isValid]',
      'form_editing --> form_review : SUBMIT [and(isAdmin, not(isBanned))]',
      'form_editing --> form_review : SUBMIT [inline]',
      'form_editing --> form_invalid : SUBMIT',
    ]);
  });

  it('labels eventless transitions always [guard]', () => {
    const machine = setup({ guards: { ready: () => true } }).createMachine({
      id: 'gate',
      initial: 'checking',
      states: {
        checking: { always: [{ guard: 'ready', target: 'open' }, { target: 'closed' }] },
        open: {},
        closed: {},
      },
    });
    const lines = linesOf(toMermaid(machine));

    expect(lines).toContain('gate_checking --> gate_open : always [ready]');
    expect(lines).toContain('gate_checking --> gate_closed : always');
  });

  it('labels delayed transitions after <ms>ms, or after <name> for a named delay', () => {
    const machine = setup({ delays: { patience: 1000 } }).createMachine({
      id: 'timer',
      initial: 'waiting',
      states: {
        waiting: { after: { 5000: 'timedOut', patience: 'nudged' } },
        timedOut: {},
        nudged: {},
      },
    });
    const lines = linesOf(toMermaid(machine));

    expect(lines).toContain('timer_waiting --> timer_timedOut : after 5000ms');
    expect(lines).toContain('timer_waiting --> timer_nudged : after patience');
  });

  it('labels an invoked actor outcome done: <src> / error: <src> with the actor name from setup', () => {
    const machine = setup({
      actors: { fetchUser: fromPromise(async () => 'user') },
      guards: { retryable: () => true },
    }).createMachine({
      id: 'user',
      initial: 'loading',
      states: {
        loading: {
          invoke: {
            src: 'fetchUser',
            onDone: 'loaded',
            onError: [{ guard: 'retryable', target: 'loading', reenter: true }, { target: 'failed' }],
          },
        },
        loaded: {},
        failed: {},
      },
    });
    const lines = linesOf(toMermaid(machine));

    expect(lines).toContain('user_loading --> user_loaded : done: fetchUser');
    expect(lines).toContain('user_loading --> user_loading : error: fetchUser [retryable]');
    expect(lines).toContain('user_loading --> user_failed : error: fetchUser');
  });

  it('escapes colons in labels with Mermaid entity codes, since a raw colon ends a label', () => {
    const machine = setup({ actors: { fetchUser: fromPromise(async () => 'user') } }).createMachine({
      id: 'user',
      initial: 'loading',
      states: { loading: { invoke: { src: 'fetchUser', onDone: 'loaded' } }, loaded: {} },
    });

    expect(toMermaid(machine)).toContain('user_loading --> user_loaded : done#58; fetchUser\n');
  });

  it('draws root-level transitions from the machine block and leaves targetless transitions out', () => {
    const machine = createMachine({
      id: 'run',
      initial: 'busy',
      on: { CANCEL: '.cancelled' },
      states: {
        busy: { on: { PROGRESS: { actions: noop }, RETRY: { target: 'busy', reenter: true } } },
        cancelled: { type: 'final' },
      },
    });
    const lines = linesOf(toMermaid(machine));

    expect(lines[lines.length - 1]).toBe('run --> run_cancelled : CANCEL');
    expect(lines).toContain('run_busy --> run_busy : RETRY');
    expect(lines.some((line) => line.includes('PROGRESS'))).toBe(false);
  });

  it('turns keys that are not Mermaid identifiers into safe ids and keeps the key as the label', () => {
    const machine = createMachine({
      id: 'my-flow',
      initial: 'step one',
      states: { 'step one': { on: { GO: 'step-two' } }, 'step-two': {} },
    });
    const lines = linesOf(toMermaid(machine));

    expect(lines).toContain('state "my-flow" as my_flow{');
    expect(lines).toContain('state "step one" as my_flow_step_one');
    expect(lines).toContain('my_flow_step_one --> my_flow_step_two : GO');
  });

  it('is deterministic: the same definition renders to the same text', () => {
    const build = () =>
      createMachine({
        id: 'm',
        initial: 'a',
        states: { a: { on: { X: 'b', Y: 'c' }, after: { 10: 'c' } }, b: { always: 'c' }, c: { type: 'final' } },
      });

    expect(toMermaid(build())).toBe(toMermaid(build()));
  });
});

describe('committed diagrams', () => {
  const registryNames = Object.keys(machineRegistry).sort();

  for (const [name, machine] of Object.entries(machineRegistry)) {
    it(`diagrams/${name}.mmd matches its machine`, () => {
      const file = join(DIAGRAMS_DIR, `${name}.mmd`);
      expect(existsSync(file), `diagrams/${name}.mmd is missing: run npm run diagrams`).toBe(true);
      expect(readFileSync(file, 'utf8'), `diagrams/${name}.mmd is stale: run npm run diagrams`).toBe(toMermaid(machine));
    });
  }

  it('has exactly one .mmd file per registered machine', () => {
    const files = existsSync(DIAGRAMS_DIR) ? readdirSync(DIAGRAMS_DIR).filter((file) => file.endsWith('.mmd')) : [];
    const fileNames = files.map((file) => file.slice(0, -'.mmd'.length)).sort();

    expect(
      fileNames,
      'diagrams/*.mmd must match machines/index.ts: run npm run diagrams (it writes missing files and removes strays)',
    ).toEqual(registryNames);
  });

  it('says in diagrams/README.md that the folder is generated', () => {
    const readme = join(DIAGRAMS_DIR, 'README.md');

    expect(existsSync(readme), 'diagrams/README.md is missing: run npm run diagrams').toBe(true);
    expect(readFileSync(readme, 'utf8')).toContain('npm run diagrams');
  });
});
