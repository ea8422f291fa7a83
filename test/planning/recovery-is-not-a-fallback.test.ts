/**
 * Regression: a server that declares `recovery` (as every server `ensemble
 * serve` starts does) but no fallback chain was reported as "declares a
 * fallback", and graceful degradation chosen alongside the primary pattern,
 * because its spec holds `fallback: []`.
 */
import { describe, expect, it } from 'vitest';
import { selectPattern } from '../../src/planning/select-pattern.js';
import { parseWorkflow } from '../../src/workflow/parse-workflow.js';

describe('selectPattern with recovery but no fallback', () => {
  it('does not add graceful-degradation for a server with only recovery declared', () => {
    const workflow = parseWorkflow(
      { servers: { fx: { command: 'node', recovery: {} } }, tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: {} }] },
      { dir: '/tmp' },
    );
    const choice = selectPattern(workflow);
    expect(choice.with).toEqual([]);
    expect(choice.reasons.join('\n')).not.toMatch(/declares a fallback/);
  });
});
