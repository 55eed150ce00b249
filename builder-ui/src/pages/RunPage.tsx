import { useEffect, useMemo, useState } from 'react';
import { ReactFlowProvider } from '@xyflow/react';
import { api, ApiError } from '../api/client';
import type { FlowDoc, Run } from '../api/types';
import { TERMINAL } from '../api/types';
import { docToGraph } from '../flow/model';
import { runPath, runStepMap, shortRunId } from '../flow/run';
import { useNodeTypes } from '../nodeTypes';
import { useI18n } from '../i18n';
import { Link, useRouter } from '../router';
import { useNotify } from '../components/Toasts';
import { FlowCanvas } from '../components/canvas/FlowCanvas';
import type { CanvasInfo } from '../components/canvas/CanvasContext';
import { StatusBadge } from '../components/StatusBadge';
import { StepList } from '../components/StepList';
import { RunHistory } from '../components/RunHistory';

/** One run on a read-only canvas of the version it ran, with the path taken highlighted. */
export function RunPage({ id }: { id: string }) {
  const { t, fmtTime } = useI18n();
  const { navigate } = useRouter();
  const notify = useNotify();
  const { byType } = useNodeTypes();
  const [run, setRun] = useState<Run | null>(null);
  /** The version's document: undefined while loading, null if it could not be loaded. */
  const [doc, setDoc] = useState<FlowDoc | null | undefined>(undefined);
  const [notFound, setNotFound] = useState(false);
  const [reload, setReload] = useState(0);
  const [openNode, setOpenNode] = useState<string | null>(null);

  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout>;
    const poll = async () => {
      try {
        const r = await api.run(id);
        if (stop) return;
        setRun(r);
        if (!TERMINAL.includes(r.status)) timer = setTimeout(() => void poll(), 800);
      } catch (e) {
        if (!stop) { if ((e as ApiError).status === 404) setNotFound(true); else notify((e as Error).message, 'error'); }
      }
    };
    void poll();
    return () => { stop = true; clearTimeout(timer); };
  }, [id, notify, reload]);

  const flowId = run?.flow_id;
  const version = run?.flow_version;
  useEffect(() => {
    if (!flowId || !version) return;
    api.version(flowId, version).then((v) => setDoc(v.definition ?? null), () => setDoc(null));
  }, [flowId, version]);

  const graph = useMemo(() => (doc ? docToGraph(doc) : { nodes: [], edges: [] }), [doc]);
  const docNodes = useMemo(() => (doc?.nodes ?? []).map((n) => ({ id: n.id, type: n.type })), [doc]);
  const info = useMemo<CanvasInfo>(() => ({
    problemsByNode: new Map(),
    stepByNode: run ? runStepMap(run, docNodes, byType) : new Map(),
    readOnly: true,
  }), [run, docNodes, byType]);

  const retry = async (from: 'failed' | 'start') => {
    try {
      const r = await api.retryRun(id, from);
      notify(t('run.retried'));
      if (r.run_id === id) setReload((x) => x + 1);
      else navigate(`/runs/${r.run_id}`);
    } catch (e) { notify((e as Error).message, 'error'); }
  };
  const cancel = async () => {
    // (Reloaded in full: the answer to cancel has neither the steps nor who cancelled.)
    try { await api.cancelRun(id); setReload((x) => x + 1); } catch (e) { notify((e as Error).message, 'error'); }
  };

  if (notFound) return <section className="page"><p className="empty">{t('run.notFound')}</p></section>;
  if (!run) return <section className="page"><p className="muted">{t('common.loading')}</p></section>;
  const path = runPath(run, docNodes, byType);

  return (
    <div className="runview">
      <div className="toolbar">
        <Link to="/runs" className="back" aria-label={t('common.back')}>←</Link>
        <h1 className="run-title">{t('run.heading', { id: '…' + shortRunId(run.id) })}</h1>
        <StatusBadge status={run.status} />
        {run.dry_run && <span className="badge dry">{t('runs.dry')}</span>}
        <span className="muted small">
          {t('run.flow')}: <Link to={`/flows/${run.flow_id}`}>{run.flow_name || run.flow_id}</Link> · {t('run.version')} v{run.flow_version} · {fmtTime(run.created_at)}
        </span>
        <div className="spacer" />
        {run.status === 'failed' && (
          <>
            <button type="button" onClick={() => void retry('failed')}>{t('run.retryFailed')}</button>
            <button type="button" onClick={() => void retry('start')}>{t('run.retryStart')}</button>
          </>
        )}
        {!TERMINAL.includes(run.status) && <button type="button" className="danger" onClick={() => void cancel()}>{t('run.cancel')}</button>}
      </div>
      <div className="runview-body">
        <ReactFlowProvider>
          <FlowCanvas nodes={graph.nodes} edges={graph.edges} info={info} key={doc ? 'doc' : 'empty'} loading={doc === undefined}
            onNodeClick={(nid) => {
              setOpenNode(nid);
              requestAnimationFrame(() => document.querySelector(`[data-step-node="${CSS.escape(nid)}"]`)?.scrollIntoView({ block: 'nearest' }));
            }} />
        </ReactFlowProvider>
        <aside className="sidepanel">
          <div className="panel-body">
            {run.error && <div className="field-error" role="alert"><strong>{t('run.error')}:</strong> {run.error}</div>}
            <h2>{t('run.who')}</h2>
            <RunHistory run={run} />
            <h2>{t('run.path')}</h2>
            <p className="mono small" data-testid="run-path">{path || '—'}</p>
            {run.event && (
              <details>
                <summary>{t('run.event')}: <span className="mono">{run.event.type}</span></summary>
                <pre className="json">{JSON.stringify(run.event.data, null, 2)}</pre>
              </details>
            )}
            <h2>{t('run.steps')}</h2>
            <StepList steps={run.steps ?? []} openNode={openNode} />
          </div>
        </aside>
      </div>
    </div>
  );
}
