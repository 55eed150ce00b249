import type { MessageKey } from '../i18n';
import type { PathStep, Replay, ReplayChange } from '../api/replay';
import type { StepMark } from './run';

type T = (key: MessageKey, vars?: Record<string, string | number>) => string;

const CODES = ['unchanged', 'no_recorded_run', 'event_missing', 'now_fails', 'no_longer_fails', 'credential_missing',
  'action_added', 'action_removed', 'action_changed', 'path_changed'];

/** One change in this language ("now also runs sms"); unknown codes as the server's code. */
export function changeText(t: T, c: ReplayChange): string {
  if (!CODES.includes(c.code)) return c.code + (c.node ? ' ' + c.node : '');
  return t(`replay.code.${c.code}` as MessageKey, { node: c.node ?? '', credential: c.credential ?? '' });
}

/** An outcome (a combination of changes) in this language. */
export function outcomeText(t: T, changes: ReplayChange[]): string {
  return changes.map((c) => changeText(t, c)).join(t('replay.sep'));
}

/** "412 unchanged, 37 now also run sms" in this language. */
export function summaryLine(t: T, r: Replay): string {
  return r.summary.map((o) => t('replay.count', { n: o.count, what: outcomeText(t, o.changes) })).join(t('replay.sep'));
}

/** Whether a finished replay found any event that changed. */
export function hasChanges(r: Replay): boolean {
  return r.summary.some((o) => o.outcome !== 'unchanged');
}

/**
 * Marks for the canvas comparing two paths: a node on both keeps the new status; one that ran only
 * in the replay is "replay-added", one that ran only for real is "replay-removed".
 */
export function pathMarks(oldPath: PathStep[], newPath: PathStep[]): Map<string, StepMark> {
  const m = new Map<string, StepMark>();
  const old = new Map(oldPath.map((s) => [s.node, s]));
  for (const s of newPath) {
    m.set(s.node, { status: old.has(s.node) || s.status === 'failed' ? s.status : 'replay-added', port: s.port });
  }
  for (const s of oldPath) if (!m.has(s.node)) m.set(s.node, { status: 'replay-removed', port: s.port });
  return m;
}

/** "t → large_amount (false) → sms_small" */
export function pathText(p: PathStep[]): string {
  return p.map((s) => s.node + (s.port && s.port !== 'out' ? ` (${s.port})` : '') + (s.status === 'failed' ? ' ✗' : '')).join(' → ');
}
