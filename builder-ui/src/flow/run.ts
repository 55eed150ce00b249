import type { NodeSpec, Run } from '../api/types';
import { DEFAULT_PORT } from './model';

export type StepMark = { status: string; port?: string };

/**
 * The status of each node in a run, by node id (the last attempt wins). The engine records no
 * step for the trigger: it fired when the run exists, so it is marked succeeded on port "out".
 */
export function runStepMap(run: Run, nodes: { id: string; type: string }[], byType: Map<string, NodeSpec>): Map<string, StepMark> {
  const m = new Map<string, StepMark>();
  for (const n of nodes) {
    if (byType.get(n.type)?.category === 'trigger') m.set(n.id, { status: 'succeeded', port: DEFAULT_PORT });
  }
  for (const s of run.steps ?? []) m.set(s.node_id, { status: s.status, port: s.port });
  return m;
}

/** "event → condition (true) → assign → sms" */
export function runPath(run: Run, nodes: { id: string; type: string }[], byType: Map<string, NodeSpec>): string {
  const trigger = nodes.find((n) => byType.get(n.type)?.category === 'trigger' && !(run.steps ?? []).some((s) => s.node_id === n.id));
  const parts = (run.steps ?? []).map((s) => s.node_id + (s.port && s.port !== DEFAULT_PORT ? ` (${s.port})` : ''));
  return [...(trigger ? [trigger.id] : []), ...parts].join(' → ');
}

/**
 * The part of a run id that tells runs apart. Ids are UUIDv7: they start with the time, so runs
 * of the same minute share their first characters; the end is random.
 */
export function shortRunId(id: string): string {
  return id.length > 8 ? id.slice(-8) : id;
}
