import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from '../api/client';
import type { Run } from '../api/types';
import { TERMINAL } from '../api/types';

/** Starts a run of a flow and polls GET /runs/{id} until it ends (or two minutes pass). */
export function useTestRun(onError: (msg: string) => void, onNoRun: () => void) {
  const [run, setRun] = useState<Run | null>(null);
  const [busy, setBusy] = useState(false);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => { alive.current = false; };
  }, []);

  const start = useCallback(async (flowId: string, data: unknown, dryRun: boolean) => {
    setBusy(true);
    setRun(null);
    try {
      const res = await api.runFlow(flowId, data, dryRun);
      const runId = res.run_ids?.[0];
      if (!runId) { onNoRun(); return; }
      const deadline = Date.now() + 120_000;
      for (;;) {
        const r = await api.run(runId);
        if (!alive.current) return;
        setRun(r);
        if (TERMINAL.includes(r.status) || Date.now() > deadline) break;
        await new Promise((ok) => setTimeout(ok, 600));
      }
    } catch (e) {
      onError((e as Error).message);
    } finally {
      if (alive.current) setBusy(false);
    }
  }, [onError, onNoRun]);

  return { run, busy, start, clear: useCallback(() => setRun(null), []) };
}
