/**
 * Mermaid `stateDiagram-v2` from an XState v5 machine definition.
 *
 * Choices, and why:
 * - Only transitions with a target are drawn. A targetless transition runs
 *   actions without changing state (`server.ready` → `markServerReady`); drawing
 *   every one as a self-loop would bury the control flow under bookkeeping. A
 *   transition that names its own state as the target (a deliberate re-entry or
 *   self-transition) is drawn as a self-loop.
 * - Order is definition order: states as declared; per state, its `on` events,
 *   its `onDone`, its invokes' `onDone`/`onError`, its `after` delays (the
 *   order XState keeps them in `node.transitions`), then `always`.
 * - Every state gets a Mermaid id built from its path (`sequential.executing.
 *   calling` → `sequential_executing_calling`): Mermaid ids are global, so keys
 *   that repeat under different parents must not collide. The state's own key
 *   is the visible label.
 * - The machine itself is the outermost composite state, so transitions
 *   declared on the root (`on: { 'run.cancel': '.failed' }`) have a source.
 * - A transition between two children of the same (non-parallel) state is
 *   written inside that state's block, after its states are declared; every
 *   other transition is written at the top level, after all blocks. Mermaid
 *   moves a state into whichever block last mentions it, so an edge that
 *   crosses blocks, written inside one of them, would pull its other end in.
 * - Labels are escaped with Mermaid entity codes (`:` → `#58;`): Mermaid before
 *   v11 ends a transition label at a colon (v11 at `;` or `::`), and `#` can
 *   start a comment. The rendered diagram shows `done: fetch`; the file reads
 *   `done#58; fetch`.
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';

const INDENT = '  ';

/**
 * Renders a machine definition (its state nodes, not a running actor) as a
 * Mermaid state diagram. The same definition always gives the same text, so a
 * committed `diagrams/<name>.mmd` can be compared with a fresh rendering.
 *
 * Labels: the event type; `always` for eventless transitions; `after 5000ms`
 * (or `after <delayName>`) for delays; `done: <src>` / `error: <src>` for an
 * invoked actor's `onDone` / `onError` (src is the actor's name in `setup`);
 * `onDone` for a state's own `onDone`; a guard in brackets after the label
 * (`server.result [isToolError]`).
 *
 * @example
 * const machine = createMachine({ id: 'light', initial: 'green', states: { green: { on: { NEXT: 'red' } }, red: {} } });
 * toMermaid(machine);
 * // stateDiagram-v2
 * //   [*] --> light
 * //   state "light" as light{
 * //     [*] --> light_green
 * //     state "green" as light_green
 * //     state "red" as light_red
 * //     light_green --> light_red : NEXT
 * //   }
 */
export function toMermaid(machine: AnyStateMachine): string {
  const root = machine.root as AnyStateNode;
  const ids = assignIds(root);
  const edges = placeEdges(root);
  const lines = ['stateDiagram-v2', `${INDENT}[*] --> ${ids.get(root)}`];
  renderState(root, 1, { ids, edges }, lines);
  for (const edge of edges.get(undefined) ?? []) lines.push(INDENT + formatEdge(edge, ids));
  return `${lines.join('\n')}\n`;
}

interface Edge {
  source: AnyStateNode;
  target: AnyStateNode;
  label: string;
}

interface RenderContext {
  ids: Map<AnyStateNode, string>;
  /** Edges by the block they are written in; `undefined` is the top level. */
  edges: Map<AnyStateNode | undefined, Edge[]>;
}

function renderState(node: AnyStateNode, depth: number, ctx: RenderContext, lines: string[]): void {
  const pad = INDENT.repeat(depth);
  const id = ctx.ids.get(node)!;
  const children = childrenOf(node);
  const label = `"${escapeText(labelOf(node))}" as ${id}`;
  if (children.length === 0) {
    lines.push(`${pad}state ${label}`);
    return;
  }
  // No space before `{`: Mermaid takes everything up to the brace as the id,
  // and a trailing space would make references to the id miss the block.
  lines.push(`${pad}state ${label}{`);
  const inner = pad + INDENT;
  if (node.type === 'compound') {
    const initial = node.initial.target[0];
    if (initial) lines.push(`${inner}[*] --> ${ctx.ids.get(initial)}`);
  }
  children.forEach((child, index) => {
    // Regions of a parallel state are separated by `--`.
    if (node.type === 'parallel' && index > 0) lines.push(`${inner}--`);
    renderState(child, depth + 1, ctx, lines);
  });
  for (const edge of ctx.edges.get(node) ?? []) lines.push(inner + formatEdge(edge, ctx.ids));
  for (const child of children) {
    if (child.type === 'final') lines.push(`${inner}${ctx.ids.get(child)} --> [*]`);
  }
  lines.push(`${pad}}`);
}

function formatEdge(edge: Edge, ids: Map<AnyStateNode, string>): string {
  return `${ids.get(edge.source)} --> ${ids.get(edge.target)} : ${escapeText(edge.label)}`;
}

function labelOf(node: AnyStateNode): string {
  if (!node.parent) return node.machine.id;
  if (node.type === 'history') return `${node.key} (${node.history === 'deep' ? 'H*' : 'H'})`;
  return node.key;
}

function childrenOf(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states) as AnyStateNode[];
}

/** Every state node, parents before children, in definition order. */
function walk(node: AnyStateNode): AnyStateNode[] {
  return [node, ...childrenOf(node).flatMap(walk)];
}

/**
 * Mermaid ids from state paths. Anything outside `[A-Za-z0-9_]` becomes `_`;
 * an id Mermaid would read as a keyword gets an `s_` prefix; a collision
 * (`a.b_c` and `a.b.c`) gets a numeric suffix, in definition order.
 */
function assignIds(root: AnyStateNode): Map<AnyStateNode, string> {
  const ids = new Map<AnyStateNode, string>();
  const taken = new Set<string>();
  for (const node of walk(root)) {
    let base = [root.machine.id, ...node.path].join('_').replace(/[^A-Za-z0-9_]/g, '_');
    if (base === '' || MERMAID_KEYWORD.test(base)) base = `s_${base}`;
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
    taken.add(id);
    ids.set(node, id);
  }
  return ids;
}

// Words Mermaid's state-diagram lexer matches before it matches an id.
const MERMAID_KEYWORD = /^(default|state|note|class|style|click|href|direction|scale|hide|acc|end)/i;

/** Every drawn edge, grouped by the block it must be written in. */
function placeEdges(root: AnyStateNode): Map<AnyStateNode | undefined, Edge[]> {
  const placed = new Map<AnyStateNode | undefined, Edge[]>();
  for (const node of walk(root)) {
    for (const edge of edgesFrom(node)) {
      const block = blockFor(edge.source, edge.target);
      const list = placed.get(block) ?? [];
      list.push(edge);
      placed.set(block, list);
    }
  }
  return placed;
}

/**
 * The block an edge is written in: the common parent of two siblings, or
 * `undefined` (the top level) for an edge that crosses blocks. A parallel
 * state's block is split into regions by `--`, so edges between its regions go
 * to the top level too.
 */
function blockFor(source: AnyStateNode, target: AnyStateNode): AnyStateNode | undefined {
  const parent = source.parent;
  return parent && parent === target.parent && parent.type !== 'parallel' ? parent : undefined;
}

function edgesFrom(node: AnyStateNode): Edge[] {
  const names = friendlyEventNames(node);
  const edges: Edge[] = [];
  const add = (transition: AnyTransitionDefinition, event: string): void => {
    const guard = transition.guard === undefined ? '' : ` [${describeGuard(transition.guard)}]`;
    for (const target of transition.target ?? []) {
      edges.push({ source: node, target: target as AnyStateNode, label: event + guard });
    }
  };
  for (const [eventType, transitions] of node.transitions) {
    for (const transition of transitions) {
      add(transition, delayLabel(transition) ?? names.get(eventType) ?? friendlyEventName(eventType));
    }
  }
  for (const transition of node.always ?? []) add(transition, 'always');
  return edges;
}

/** Names for the events XState derives from this node's `onDone`, `invoke` and `after`. */
function friendlyEventNames(node: AnyStateNode): Map<string, string> {
  const names = new Map<string, string>();
  names.set(`xstate.done.state.${node.id}`, 'onDone');
  node.invoke.forEach((invoke, index) => {
    // Inline logic gets a generated src (`xstate.invoke.0.<node id>`); name it
    // by an explicit invoke id when there is one.
    const generatedId = `${index}.${node.id}`;
    const named = typeof invoke.src === 'string' && !invoke.src.startsWith('xstate.invoke.');
    const name = named ? (invoke.src as string) : invoke.id !== generatedId ? invoke.id : 'inline';
    names.set(`xstate.done.actor.${invoke.id}`, `done: ${name}`);
    names.set(`xstate.error.actor.${invoke.id}`, `error: ${name}`);
    names.set(`xstate.snapshot.${invoke.id}`, `snapshot: ${name}`);
  });
  return names;
}

/** Internal event types written by hand (e.g. for a spawned child), made readable. */
function friendlyEventName(eventType: string): string {
  const match = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (match) return `${match[1]}: ${match[2]}`;
  if (eventType.startsWith('xstate.done.state.')) return 'onDone';
  if (eventType === 'xstate.route') return 'route';
  return eventType;
}

function delayLabel(transition: AnyTransitionDefinition): string | undefined {
  if (!('delay' in transition)) return undefined;
  const delay: unknown = transition.delay;
  return typeof delay === 'number' ? `after ${delay}ms` : `after ${String(delay)}`;
}

/** A guard as written: its name, or the shape of a higher-order guard. */
function describeGuard(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const fn = guard as { name: string; check?: unknown; guards?: unknown[]; stateValue?: unknown };
    if (fn.check && Array.isArray(fn.guards)) return `${fn.name}(${fn.guards.map(describeGuard).join(', ')})`;
    if (fn.check && 'stateValue' in fn) {
      const value = fn.stateValue;
      return `stateIn(${typeof value === 'string' ? value : JSON.stringify(value)})`;
    }
    // An inline arrow gets the name of the property it was written in (`guard`).
    return fn.name && fn.name !== 'guard' && fn.name !== 'anonymous' ? fn.name : 'inline';
  }
  if (typeof guard === 'object' && guard !== null && typeof (guard as { type?: unknown }).type === 'string') {
    return (guard as { type: string }).type;
  }
  return 'guard';
}

/** Mermaid entity codes for the characters that would end a label or start a comment. */
function escapeText(text: string): string {
  return text.replace(/[#:;"]/g, (char) => `#${char.charCodeAt(0)};`);
}
