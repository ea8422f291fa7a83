/**
 * The synthesizer listens to a run's bus and builds what the run produced:
 * each task's report line, the notifications, and on request the final
 * output (the workflow's `output` template, or every task's text in order).
 * It learns everything from the bus, so any pattern machine can feed it.
 */
import type { Subscription } from 'rxjs';
import type { BusEvent } from './core/bus-events.js';
import type { ErrorInfo } from './core/errors.js';
import type { CompensationReport, Notification, PatternName, RunReport, RunStatus, ServerShare, TaskReport, ToolResult } from './core/results.js';
import { renderValue, toText } from './core/template.js';
import type { RunBus } from './bus.js';

export interface Synthesizer {
  /** True once a fallback served a task or an optional task was skipped: the run can end `degraded` at best. */
  readonly degraded: boolean;
  /** Renders the final output from the results seen so far. Throws on a template that does not resolve. */
  synthesize(): string;
  report(status: RunStatus, extra: { output: string; error?: ErrorInfo; startedAt: number }): RunReport;
  /** The tasks as currently known, in breakdown order. */
  tasks(): TaskReport[];
  stop(): void;
}

export interface SynthesizerConfig {
  /** `servers` (declared names, in order) gives multi-server runs their `servers` section. */
  workflow: { name: string; output?: string; tasks: { id: string; server: string; tool: string }[]; servers?: Readonly<Record<string, unknown>> };
  pattern: PatternName;
}

/** The server's whole result and what was wrong with it, beside the derived text and json. */
function keepRaw(report: TaskReport, result: ToolResult): void {
  if (result.raw !== undefined) report.raw = result.raw;
  if (result.warnings !== undefined) report.warnings = result.warnings;
}

export function createSynthesizer(bus: RunBus, config: SynthesizerConfig): Synthesizer {
  const tasks = new Map<string, TaskReport>();
  const results = new Map<string, ToolResult>();
  const notifications: Notification[] = [];
  const compensations: CompensationReport[] = [];
  let degraded = false;
  let closing = false;
  // Each server's share of the run, kept only for multi-server runs (the coordinator's report).
  const shares = new Map<string, ServerShare>();
  if (config.pattern === 'multi-server') {
    for (const name of Object.keys(config.workflow.servers ?? {})) shares.set(name, { name, state: 'idle', calls: 0, errors: 0, durationMs: 0, tasks: [], servedBy: [] });
  }
  const count = (server: string, durationMs: number, failed: boolean, task?: string, servedBy?: string): void => {
    const share = shares.get(server);
    if (!share) return;
    share.calls++;
    if (failed) share.errors++;
    share.durationMs += durationMs;
    if (task !== undefined && !share.tasks.includes(task)) share.tasks.push(task);
    if (servedBy !== undefined && !share.servedBy.includes(servedBy)) share.servedBy.push(servedBy);
    if (share.state === 'idle') share.state = 'serving';
  };

  const entry = (ref: { id: string; server: string; tool: string }): TaskReport => {
    let report = tasks.get(ref.id);
    if (!report) {
      report = { id: ref.id, server: ref.server, tool: ref.tool, status: 'pending', text: '', isError: false };
      tasks.set(ref.id, report);
    }
    return report;
  };
  // Until a breakdown arrives (a planner may add tasks), the workflow's own list stands.
  for (const task of config.workflow.tasks) entry(task);

  const subscription: Subscription = bus.events$.subscribe((event: BusEvent) => {
    switch (event.type) {
      case 'run.breakdown': {
        const previous = new Map(tasks);
        tasks.clear();
        // The breakdown names each task's server as routed (a task that named only a tool gets the one chosen).
        for (const ref of event.tasks) {
          const known = previous.get(ref.id);
          tasks.set(ref.id, known ? Object.assign(known, ref) : { ...ref, status: 'pending', text: '', isError: false });
        }
        break;
      }
      case 'task.started': {
        const report = entry(event.task);
        report.status = 'running';
        report.server = event.task.server;
        break;
      }
      case 'task.completed': {
        const report = entry(event.task);
        Object.assign(report, { status: 'completed', text: event.result.text, isError: event.result.isError, durationMs: event.durationMs, servedBy: event.servedBy ?? report.server });
        if (event.servedBy) degraded = true;
        if (event.result.json !== undefined) report.json = event.result.json;
        keepRaw(report, event.result);
        results.set(event.task.id, event.result);
        count(event.task.server, event.durationMs, false, event.task.id, event.servedBy ?? event.task.server);
        break;
      }
      case 'task.failed': {
        const report = entry(event.task);
        Object.assign(report, { status: event.error.code === 'CANCELLED' ? 'cancelled' : 'failed', durationMs: event.durationMs, error: event.error });
        if (event.result) {
          report.text = event.result.text;
          report.isError = event.result.isError;
          keepRaw(report, event.result);
        } else {
          report.text = event.error.message;
        }
        count(event.task.server, event.durationMs, true, event.task.id);
        break;
      }
      case 'task.compensated':
        compensations.push({ task: event.task.id, server: event.compensation.server, tool: event.compensation.tool, status: 'compensated', text: event.result.text });
        count(event.compensation.server, event.durationMs, false, undefined, event.compensation.server);
        break;
      case 'task.compensation_failed':
        compensations.push({ task: event.task.id, server: event.compensation.server, tool: event.compensation.tool, status: 'failed', text: event.result?.text ?? event.error.message });
        count(event.compensation.server, event.durationMs, true);
        break;
      case 'server.state': {
        // The state the server served the run in: closing it afterwards is not news.
        const share = shares.get(event.server);
        if (share && !closing) share.state = event.state;
        break;
      }
      case 'run.closing':
        closing = true;
        break;
      case 'task.skipped': {
        const report = entry(event.task);
        report.status = 'skipped';
        report.text = event.reason;
        if (event.optional) degraded = true;
        break;
      }
      case 'notification':
        notifications.push({ ...event.notification, at: event.at });
        break;
      default:
        break;
    }
  });

  return {
    get degraded() {
      return degraded;
    },
    synthesize() {
      const template = config.workflow.output;
      if (template === undefined) {
        return [...tasks.values()].filter((task) => task.status === 'completed').map((task) => task.text).join('\n');
      }
      const scope = { tasks: Object.fromEntries(results) };
      return toText(renderValue(template, scope, { where: 'output' }));
    },
    report(status, extra) {
      const report: RunReport = {
        runId: bus.runId,
        workflow: config.workflow.name,
        pattern: config.pattern,
        status,
        tasks: [...tasks.values()].map((task) =>
          // A failed run never reaches tasks still pending: say so rather than leave them open.
          status === 'failed' && task.status === 'pending' ? { ...task, status: 'skipped', text: 'not run: the run failed before this task' } : { ...task },
        ),
        output: extra.output,
        notifications: [...notifications],
        startedAt: extra.startedAt,
        finishedAt: Date.now(),
      };
      if (extra.error) report.error = extra.error;
      if (shares.size > 0) report.servers = [...shares.values()].map((share) => ({ ...share, tasks: [...share.tasks], servedBy: [...share.servedBy] }));
      if (compensations.length > 0) report.compensations = compensations.map((entry) => ({ ...entry }));
      return report;
    },
    tasks: () => [...tasks.values()],
    stop: () => subscription.unsubscribe(),
  };
}

