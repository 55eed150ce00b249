import type { FlowDoc } from '../api/types';

/**
 * Unsaved editor work is kept in localStorage until it is saved (the server keeps drafts with
 * problems too), so a reload or a crash loses nothing.
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

/**
 * The local draft worth offering back over the server's version: only one written after that
 * version was saved, and different from it. An older one would undo work saved since.
 */
export function restorableDraft(
  local: { saved_at: string; doc: FlowDoc } | null,
  server: FlowDoc,
  serverSavedAt?: string,
): { saved_at: string; doc: FlowDoc } | null {
  if (!local) return null;
  if (serverSavedAt && !(Date.parse(local.saved_at) > Date.parse(serverSavedAt))) return null;
  return JSON.stringify(local.doc) !== JSON.stringify(server) ? local : null;
}
