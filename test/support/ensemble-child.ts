/**
 * An Ensemble process for tests that must kill Ensemble itself: it runs a
 * workflow (the JSON given as its one argument) and prints one stdout line
 * per event a test waits on:
 * - `{"pids": …}` with a `pids` task's result (a fixture server's pid and its grandchild's);
 * - `{"watchdog": <pid>}` once every `pids` task has answered;
 * - `{"report": …}` if the run ends by itself.
 *
 * Run it as `node --import tsx test/support/ensemble-child.ts '<workflow json>'`.
 */
import process from 'node:process';
import { getWatchdogPid } from '../../actors/process-watchdog.js';
import { runWorkflow } from '../../src/index.js';

const workflow = JSON.parse(process.argv[2] ?? '{}') as { tasks: { id: string; tool: string }[] };
const pidTasks = new Set(workflow.tasks.filter((task) => task.tool === 'pids').map((task) => task.id));

const report = await runWorkflow(workflow, {
  onEvent: (event) => {
    if (event.type !== 'task.completed' || !pidTasks.has(event.task.id)) return;
    process.stdout.write(`${JSON.stringify({ pids: event.result.json })}\n`);
    pidTasks.delete(event.task.id);
    if (pidTasks.size === 0) process.stdout.write(`${JSON.stringify({ watchdog: getWatchdogPid() ?? null })}\n`);
  },
});
process.stdout.write(`${JSON.stringify({ report: { status: report.status } })}\n`);
