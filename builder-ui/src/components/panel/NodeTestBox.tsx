import { useEffect, useState } from 'react';
import { api, type NodeTestResult } from '../../api/client';
import type { Run } from '../../api/types';
import { useI18n, type MessageKey } from '../../i18n';
import { useNodeTypes } from '../../nodeTypes';
import { shortRunId } from '../../flow/run';

/** The pinned input a run gives its nodes: the trigger's event and every succeeded step's output. */
function pinnedFromRun(run: Run, isTrigger: (type: string) => boolean): { event: unknown; nodes: Record<string, unknown> } {
  const nodes: Record<string, unknown> = {};
  let event: unknown = run.event ? { id: run.event.id, type: run.event.type, source: run.event.source, data: run.event.data } : {};
  for (const s of run.steps ?? []) {
    if (s.status !== 'succeeded') continue;
    nodes[s.node_id] = s.output;
    if (isTrigger(s.node_type)) event = s.output;
  }
  return { event, nodes };
}

/**
 * "Test this node": runs one node of the saved draft on pinned input (a recent run's data, or
 * edited JSON) through POST /flows/{id}/nodes/{node_id}/test, and shows its output, port and error.
 */
export function NodeTestBox({ flowId, nodeId, ensureSaved }: { flowId: string; nodeId: string; ensureSaved?: () => Promise<string | null> }) {
  const { t, fmtShort, portLabel } = useI18n();
  const { byType } = useNodeTypes();
  const [open, setOpen] = useState(false);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [source, setSource] = useState('');
  const [text, setText] = useState('{\n  "event": {"data": {}},\n  "nodes": {}\n}');
  const [edited, setEdited] = useState(false);
  const [result, setResult] = useState<NodeTestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!open || runs) return;
    api.runs({ flow_id: flowId, limit: 10 }).then((p) => {
      const items = p.items ?? [];
      setRuns(items);
      if (items.length) setSource(items[0].id);
    }, (e: Error) => setError(e.message));
  }, [open, runs, flowId]);

  useEffect(() => {
    if (!source) return;
    let live = true;
    api.run(source).then((r) => {
      if (!live) return;
      setText(JSON.stringify(pinnedFromRun(r, (type) => byType.get(type)?.category === 'trigger'), null, 2));
      setEdited(false);
    }, (e: Error) => live && setError(e.message));
    return () => { live = false; };
  }, [source, byType]);

  const run = async () => {
    setError(null);
    setResult(null);
    let body: Parameters<typeof api.testNode>[2];
    if (source && !edited) {
      body = { run_id: source };
    } else {
      try {
        body = { input: JSON.parse(text) as { event?: unknown; nodes?: Record<string, unknown> } };
      } catch (e) {
        setError(t('nodeTest.badJson', { message: (e as Error).message }));
        return;
      }
    }
    setBusy(true);
    try {
      if (ensureSaved && !(await ensureSaved())) return;
      setResult(await api.testNode(flowId, nodeId, body));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <details className="node-test" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>{t('nodeTest.heading')}</summary>
      <p className="muted small">{t('nodeTest.help')}</p>
      <div className="field">
        <label htmlFor="node-test-source">{t('nodeTest.source')}</label>
        <select id="node-test-source" value={source} onChange={(e) => setSource(e.target.value)}>
          {(runs ?? []).map((r) => (
            <option key={r.id} value={r.id}>
              {t('nodeTest.fromRun', { id: shortRunId(r.id), status: t(`runs.status.${r.status}` as MessageKey), time: fmtShort(r.created_at) })}
            </option>
          ))}
          <option value="">{t('nodeTest.custom')}</option>
        </select>
        {runs && runs.length === 0 && <p className="muted small">{t('nodeTest.noRuns')}</p>}
      </div>
      <div className="field">
        <label htmlFor="node-test-json">{t('nodeTest.json')}</label>
        <textarea id="node-test-json" className="mono" rows={8} value={text} spellCheck={false}
          onChange={(e) => { setText(e.target.value); setEdited(true); }} />
      </div>
      <button type="button" className="primary small" disabled={busy} onClick={() => void run()}>{t('nodeTest.run')}</button>
      {error && <p className="error" role="alert">{error}</p>}
      {result && (
        <div className="node-test-result" data-testid="node-test-result" data-port={result.port} data-dry-run={result.dry_run || undefined}>
          {result.port && <p><span className="badge">{t('nodeTest.port', { port: portLabel(result.port) })}</span></p>}
          {result.dry_run && <p className="muted small">{t('nodeTest.dryRun')}</p>}
          {result.error && <div className="field-error" role="note"><strong>{t('run.error')}:</strong> {result.error}</div>}
          <h4>{t('run.output')}</h4>
          <pre className="json">{JSON.stringify(result.output ?? null, null, 2)}</pre>
          <h4>{t('nodeTest.resolved')}</h4>
          <pre className="json">{JSON.stringify(result.input ?? null, null, 2)}</pre>
        </div>
      )}
    </details>
  );
}
