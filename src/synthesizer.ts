/**
 * The synthesizer listens to a run's bus and builds what the run produced:
 * each task's report line, the notifications, and on request the final
 * output (the workflow's `output` template, or every task's text in order).
 * It learns everything from the bus, so any pattern machine can feed it.
 */
import type { Subscription } from 'rxjs';
import type { BusEvent } from './core/bus-events.js';
import type { ErrorInfo } from './core/errors.js';
import type { Notification, PatternName, RunReport, RunStatus, TaskReport, ToolResult } from './core/results.js';
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
  workflow: { name: string; output?: string; tasks: { id: string; server: string; tool: string }[] };
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
  let degraded = false;

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
        for (const ref of event.tasks) tasks.set(ref.id, previous.get(ref.id) ?? { ...ref, status: 'pending', text: '', isError: false });
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
        break;
      }
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
      return report;
    },
    tasks: () => [...tasks.values()],
    stop: () => subscription.unsubscribe(),
  };
}

