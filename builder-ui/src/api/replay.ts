import { request } from './client';

/** One difference of a replayed event from its real run (see docs/replay.md). */
export interface ReplayChange {
  code: string;
  node?: string;
  node_type?: string;
  credential?: string;
  fields?: { field: string; old: unknown; new: unknown }[];
}

export interface ReplayOutcome { outcome: string; changes: ReplayChange[]; count: number; text: string }

export interface Replay {
  id: string;
  flow_id: string;
  version: number;
  draft: boolean;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  total: number;
  done: number;
  failing: number;
  summary: ReplayOutcome[];
  summary_text: string;
  error?: string;
  created_at: string;
}

export interface PathStep { node: string; type: string; status: string; port?: string }

export interface RecordedRequest { node_id: string; method: string; url: string; headers?: Record<string, string>; body?: string }

export interface ReplayResult {
  event_id: string;
  run_id?: string;
  outcome: string;
  failing: boolean;
  changes: ReplayChange[];
  old_path: PathStep[];
  new_path: PathStep[];
  old_error?: string;
  new_error?: string;
  requests: RecordedRequest[];
}

/** Which events to replay: the last N the flow ran for, those since a time (or "7d"), or ids. */
export type ReplaySelection = { last: number } | { since: string } | { event_ids: string[] };

export const replayApi = {
  start: (flowId: string, version: number | 'draft', sel: ReplaySelection) =>
    request<Replay>('POST', `/flows/${flowId}/replay`, { version, ...sel }),
  list: (flowId: string, limit = 5) =>
    request<{ items: Replay[] }>('GET', `/flows/${flowId}/replays?limit=${limit}`).then((r) => r.items ?? []),
  get: (id: string) => request<Replay>('GET', `/replays/${id}`),
  results: (id: string, cursor = '', outcome = '') => {
    const p = new URLSearchParams({ limit: '50' });
    if (cursor) p.set('cursor', cursor);
    if (outcome) p.set('outcome', outcome);
    return request<{ items: ReplayResult[]; next_cursor?: string }>('GET', `/replays/${id}/results?${p}`);
  },
  cancel: (id: string) => request<Replay>('POST', `/replays/${id}/cancel`),
};
