import type { FlowDoc } from '../api/types';

/**
 * Unsaved editor work is kept in localStorage, because the server only stores documents
 * that validate: a half-built flow would otherwise be lost on reload.
 */
const key = (flowId: string | null) => `opsflow.draft.${flowId ?? 'new'}`;

export function saveLocalDraft(flowId: string | null, doc: FlowDoc): void {
  try { localStorage.setItem(key(flowId), JSON.stringify({ saved_at: new Date().toISOString(), doc })); } catch { /* full or unavailable */ }
}

export function loadLocalDraft(flowId: string | null): { saved_at: string; doc: FlowDoc } | null {
  try {
    const raw = localStorage.getItem(key(flowId));
    return raw ? (JSON.parse(raw) as { saved_at: string; doc: FlowDoc }) : null;
  } catch { return null; }
}

export function clearLocalDraft(flowId: string | null): void {
  try { localStorage.removeItem(key(flowId)); } catch { /* ignore */ }
}
