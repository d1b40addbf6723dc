/**
 * What the status bar item says, from `letta/status` (pure: no `vscode` import, so unit tests run it).
 * The agent, its system tokens against the budget, the dream state, and the memory subagent run in
 * progress (a dream, a defrag or /init, with its latest phase and percentage).
 */

import { formatTokens } from './memoryNodes';
import { DreamState, RunStatus, Status } from './protocol';

const DREAM_ICONS: Record<DreamState, string> = { idle: '', due: ' $(clock)', running: ' $(sync~spin)' };
export const DREAM_WORDS: Record<DreamState, string> = {
  idle: 'idle', due: 'due (runs when you pause)', running: 'running: consolidating memory',
};

/** The run the status bar shows: the one running, else the first waiting. */
export function shownRun(status: Status): RunStatus | undefined {
  const runs = status.runs ?? [];
  return runs.find((run) => run.state === 'running') ?? runs[0];
}

export function statusText(status: Status, budget: number | undefined): string {
  const tokens = budget ? `${formatTokens(status.systemTokens)}/${formatTokens(budget)}`
    : formatTokens(status.systemTokens);
  const run = shownRun(status);
  let activity = DREAM_ICONS[status.dream] ?? '';
  if (run) {
    const pct = run.state === 'running' && typeof run.percentage === 'number' ? ` ${run.percentage}%` : '';
    activity = run.state === 'running' ? ` $(sync~spin) ${run.kind}${pct}` : ` $(clock) ${run.kind} waiting`;
  }
  return `$(hubot) ${status.agentName} · ${tokens}${activity}`;
}

/** The tooltip's lines about runs: one per run, with its phase. */
export function runLines(status: Status): string[] {
  return (status.runs ?? []).map((run) => run.state === 'running'
    ? `Running: ${run.kind}${run.message ? ` (${run.message})` : ''}`
    : `Waiting: ${run.kind} (starts when the current run ends)`);
}
