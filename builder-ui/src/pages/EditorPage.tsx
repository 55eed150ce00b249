import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ReactFlowProvider, useReactFlow } from '@xyflow/react';
import { api, ApiError } from '../api/client';
import type { Credential, CredentialType, FlowDoc, FlowSummary, NodeSpec, Problem, Team } from '../api/types';
import { docToGraph, graphToDoc, type FlowEdge, type FlowNode } from '../flow/model';
import { runStepMap } from '../flow/run';
import { clearLocalDraft, loadLocalDraft, restorableDraft, saveLocalDraft } from '../flow/localDraft';
import { needsLayout } from '../flow/layout';
import { useFlowGraph } from '../flow/useFlowGraph';
import { useValidation } from '../flow/useValidation';
import { useTestRun } from '../flow/useTestRun';
import { useI18n } from '../i18n';
import { setLeaveGuard, useRouter, Link } from '../router';
import { useNodeTypes } from '../nodeTypes';
import { useNotify } from '../components/Toasts';
import { FlowCanvas } from '../components/canvas/FlowCanvas';
import { CompareCanvas } from '../components/canvas/CompareCanvas';
import { NodePicker } from '../components/canvas/NodePicker';
import type { VersionComparison } from '../flow/compare';
import type { CanvasInfo } from '../components/canvas/CanvasContext';
import { Palette } from '../components/Palette';
import { PropertyPanel } from '../components/panel/PropertyPanel';
import { TestRunPanel } from '../components/panel/TestRunPanel';
import { VersionsPanel } from '../components/panel/VersionsPanel';
import { FlowRunsPanel } from '../components/panel/FlowRunsPanel';
import { EditorToolbar } from '../components/EditorToolbar';
import { SideTabs, type TabName } from '../components/SideTabs';
import { ReplayPanel, replayChangesOf } from '../components/ReplayPanel';
import { ConfirmDialog } from '../components/ConfirmDialog';
import type { StepMark } from '../flow/run';

type Meta = { name: string; description: string };
type Summary = Pick<FlowSummary, 'latest_version' | 'published_version' | 'enabled' | 'webhook_url'>;

export function EditorPage({ id }: { id: string | null }) {
  return (
    <ReactFlowProvider>
      <Editor routeId={id} />
    </ReactFlowProvider>
  );
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const FIT = { padding: 0.25, maxZoom: 1.1 };

function Editor({ routeId }: { routeId: string | null }) {
  const { t, lt, fmtTime } = useI18n();
  const { navigate, state: routeState } = useRouter();
  const notify = useNotify();
  const { byType } = useNodeTypes();
  const rf = useReactFlow<FlowNode, FlowEdge>();

  const [flowId, setFlowId] = useState<string | null>(routeId);
  const [loading, setLoading] = useState(!!routeId);
  const [notFound, setNotFound] = useState(false);
  const [meta, setMeta] = useState<Meta>({ name: '', description: '' });
  const [savedJson, setSavedJson] = useState('');
  const [summary, setSummary] = useState<Summary | null>(null);
  const [tab, setTab] = useState<TabName>('properties');
  const [busy, setBusy] = useState(false);
  const [versionsKey, setVersionsKey] = useState(0);
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [credentialTypes, setCredentialTypes] = useState<CredentialType[]>([]);
  const [teams, setTeams] = useState<Team[]>([]);
  const [restorable, setRestorable] = useState<{ saved_at: string; doc: FlowDoc } | null>(null);
  const [comparison, setComparison] = useState<VersionComparison | null>(null);
  /** A connection dropped on empty canvas: where, and from which node's port. */
  const [picker, setPicker] = useState<{ source: string; port: string; at: { x: number; y: number } } | null>(null);
  // A replayed event's old and new path on the canvas; the publish confirmation a replay asks for.
  const [replayMarks, setReplayMarks] = useState<Map<string, StepMark> | null>(null);
  const [publishConfirm, setPublishConfirm] = useState<string | null>(null);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true; // (again, after StrictMode's trial unmount)
    return () => { alive.current = false; };
  }, []);

  const nodeName = useCallback((spec: NodeSpec | undefined, type: string) => (spec ? lt(spec.title) : type), [lt]);
  const g = useFlowGraph(byType, nodeName);
  const { nodes, edges } = g;

  const doc = useMemo(() => graphToDoc(meta, nodes, edges), [meta, nodes, edges]);
  const docJson = useMemo(() => JSON.stringify(doc), [doc]);
  // A new flow is only worth keeping once it has a node.
  const dirty = flowId ? docJson !== savedJson : nodes.length > 0;

  const onError = useCallback((msg: string) => notify(msg, 'error'), [notify]);
  const { validation, validating, reportProblems } = useValidation(doc, docJson, !loading, onError);
  const testRun = useTestRun(onError, useCallback(() => notify(t('test.noRun'), 'error'), [notify, t]));

  // ---- loading ----
  const loadDoc = useCallback((d: FlowDoc, saved: boolean, draftKey?: string | null, savedAt?: string) => {
    if (draftKey !== undefined) setRestorable(restorableDraft(loadLocalDraft(draftKey), d, savedAt));
    g.load(d, false);
    const loaded = docToGraph(d);
    // Flows drawn left to right (older exports, other tools) or without positions (made through the
    // API) would open as a tangle: lay them out. That is layout, not a change: a flow opened and
    // left alone has nothing unsaved (the same layout is made again at the next opening).
    if (needsLayout(d)) loaded.nodes = g.autoLayout(false);
    const m = { name: d.name ?? '', description: d.description ?? '' };
    setMeta(m);
    setSavedJson(saved ? JSON.stringify(graphToDoc(m, loaded.nodes, loaded.edges)) : '');
    // (fitView before any node exists would be queued and fire on the first node dropped.)
    if (d.nodes?.length) requestAnimationFrame(() => rf.fitView(FIT));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rf, g.load]);

  useEffect(() => {
    if (!routeId) {
      const pending = (routeState as { doc?: FlowDoc } | null)?.doc;
      loadDoc(pending ?? { schema: 'opsflow/v1', name: t('flows.untitled'), description: '', nodes: [], edges: [] }, false, pending ? undefined : null);
      setLoading(false);
      return;
    }
    if (routeId === flowId && summary) return; // just created here: already loaded
    let cancelled = false;
    setLoading(true);
    api.getFlow(routeId).then((f) => {
      if (cancelled) return;
      setFlowId(f.id);
      setSummary(f);
      loadDoc(f.definition, true, f.id, f.version?.created_at);
      setLoading(false);
    }, (e: ApiError) => {
      if (cancelled) return;
      if (e.status === 404) setNotFound(true); else notify(e.message, 'error');
      setLoading(false);
    });
    return () => { cancelled = true; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [routeId]);

  useEffect(() => {
    api.credentials().then(setCredentials, () => {});
    api.credentialTypes().then(setCredentialTypes, () => {});
    api.teams().then(setTeams, () => {});
  }, []);

  // ---- unsaved work: kept locally, and a warning before leaving ----
  useEffect(() => {
    if (loading || !dirty || restorable) return;
    const h = setTimeout(() => (nodes.length ? saveLocalDraft(flowId, doc) : undefined), 500);
    return () => clearTimeout(h);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [docJson, dirty, loading, restorable]);

  useEffect(() => {
    setLeaveGuard(() => !dirty || window.confirm(t('editor.leave')));
    const onBeforeUnload = (e: BeforeUnloadEvent) => { if (dirty) e.preventDefault(); };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => { setLeaveGuard(null); window.removeEventListener('beforeunload', onBeforeUnload); };
  }, [dirty, t]);

  // ---- what the canvas shows ----
  const problems = useMemo<Problem[]>(() => validation?.problems ?? [], [validation]);
  const problemsByNode = useMemo(() => {
    const m = new Map<string, Problem[]>();
    for (const p of problems) if (p.node_id) m.set(p.node_id, [...(m.get(p.node_id) ?? []), p]);
    return m;
  }, [problems]);
  const stepByNode = useMemo(() => replayMarks ?? (testRun.run
    ? runStepMap(testRun.run, nodes.map((n) => ({ id: n.id, type: n.data.type })), byType)
    : null
  // eslint-disable-next-line react-hooks/exhaustive-deps
  ), [testRun.run, byType, replayMarks]);
  const info = useMemo<CanvasInfo>(() => ({
    problemsByNode, stepByNode, readOnly: false, teamName: (id: string) => teams.find((tm) => tm.id === id)?.name,
  }), [problemsByNode, stepByNode, teams]);

  // ---- edits that need the viewport ----
  const addNode = (type: string, position?: { x: number; y: number }, from?: { source: string; port: string }) => {
    let pos = position;
    if (!pos) {
      const el = document.querySelector('.canvas')?.getBoundingClientRect();
      const c = el ? rf.screenToFlowPosition({ x: el.left + el.width / 2, y: el.top + el.height / 2 }) : { x: 0, y: 0 };
      const k = nodes.length % 4;
      pos = { x: c.x - 90 + k * 20, y: c.y - 30 + k * 20 };
    }
    g.addNode(type, pos, from);
    setTab('properties');
  };
  const pickConnected = (type: string) => {
    if (!picker) return;
    const p = rf.screenToFlowPosition(picker.at);
    addNode(type, { x: p.x - 95, y: p.y }, picker);
    setPicker(null);
  };
  // The editable canvas is back after a comparison: show all of it again.
  const comparing = tab === 'versions' && !!comparison;
  useEffect(() => {
    if (!comparing && nodes.length) requestAnimationFrame(() => rf.fitView(FIT));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [comparing]);
  const selectNode = (id: string) => {
    g.select(id);
    setTab('properties');
    rf.fitView({ nodes: [{ id }], duration: 250, maxZoom: 1.1 });
  };
  const autoLayout = () => {
    g.autoLayout();
    requestAnimationFrame(() => rf.fitView({ ...FIT, duration: 200 }));
  };
  const copy = () => {
    const n = g.copy();
    if (n) notify(t('editor.copied', { n }));
  };

  // Keyboard shortcuts (Delete is handled by the canvas).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey)) return;
      const k = e.key.toLowerCase();
      // Ctrl+S saves from anywhere, also while typing in a field (not the browser's "save page").
      if (k === 's' && !e.shiftKey) {
        e.preventDefault();
        if (!busy && (dirty || !flowId)) void save();
        return;
      }
      if (isTyping(e.target)) return;
      if (k === 'z' && !e.shiftKey) { e.preventDefault(); g.undo(); }
      else if ((k === 'z' && e.shiftKey) || k === 'y') { e.preventDefault(); g.redo(); }
      else if (k === 'c') copy();
      else if (k === 'v') { e.preventDefault(); g.paste(); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  // ---- save, publish, run ----
  const save = async (): Promise<string | null> => {
    setBusy(true);
    try {
      const res = flowId ? await api.saveFlow(flowId, doc) : await api.createFlow(doc);
      if (!alive.current) return null;
      setSavedJson(docJson);
      // What was kept locally is on the server now: never offer it back.
      clearLocalDraft(flowId);
      clearLocalDraft(res.id);
      setRestorable(null);
      setSummary(res);
      setVersionsKey((k) => k + 1);
      if (!flowId) {
        setFlowId(res.id);
        navigate(`/flows/${res.id}`, null, true);
      }
      const v = res.version?.version ?? res.latest_version;
      const problems = res.problems ?? [];
      reportProblems(problems);
      if (problems.length) notify(t('editor.savedWithProblems', { v, n: problems.length }), 'error');
      else notify(t('editor.saved', { v }));
      return res.id;
    } catch (e) {
      const err = e as ApiError;
      reportProblems(err.problems ?? []);
      notify(t('editor.saveFailed', { msg: err.message }), 'error');
      return null;
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  const ensureSaved = async (): Promise<string | null> => (dirty || !flowId ? save() : flowId);

  const publish = async (confirmed = false) => {
    const id = await ensureSaved();
    if (!id || (validation && !validation.valid)) return;
    // A replay of this draft that found changes asks first, showing what would change.
    const changes = confirmed ? null : await replayChangesOf(id, t);
    if (changes) { setPublishConfirm(changes); return; }
    setBusy(true);
    try {
      const res = await api.publish(id);
      setSummary(res);
      setVersionsKey((k) => k + 1);
      notify(t('editor.published', { v: res.published_version }));
    } catch (e) {
      const err = e as ApiError;
      reportProblems(err.problems ?? []);
      notify(err.problems.length ? t('editor.publishRefused', { n: err.problems.length }) : err.message, 'error');
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  const runTest = async (data: unknown, dryRun: boolean) => {
    const id = await ensureSaved();
    if (id) await testRun.start(id, data, dryRun);
  };

  const slug = (meta.name || 'flow').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'flow';
  const exportJson = () => download(`${slug}.opsflow.json`, JSON.stringify(doc, null, 2) + '\n');
  const exportTemplate = async () => {
    try {
      download(`${slug}.template.json`, JSON.stringify(await api.flowTemplate(flowId!), null, 2) + '\n');
    } catch (e) { notify((e as Error).message, 'error'); }
  };

  /** Loads an older version or a restored local draft into the editor (undoable). */
  const loadVersion = (d: FlowDoc) => {
    g.load(d, true);
    setMeta({ name: d.name ?? meta.name, description: d.description ?? '' });
  };

  if (notFound) return <section className="page"><p className="empty">{t('editor.notFound')}</p><Link to="/flows">{t('common.back')}</Link></section>;

  const selected = nodes.filter((n) => n.selected);
  const trigger = nodes.find((n) => byType.get(n.data.type)?.category === 'trigger');
  const publishBlocked = !validation
    ? t('editor.validating')
    : !validation.valid
      ? t('editor.cannotPublish', { n: problems.length || 1 })
      : null;

  return (
    <div className="editor">
      <EditorToolbar
        name={meta.name}
        onName={(name) => setMeta((m) => ({ ...m, name }))}
        isNew={!flowId}
        dirty={dirty}
        summary={summary}
        validating={validating}
        problemCount={validation ? (validation.valid ? 0 : Math.max(problems.length, 1)) : null}
        canUndo={g.canUndo}
        canRedo={g.canRedo}
        busy={busy || loading}
        publishBlocked={publishBlocked}
        onUndo={g.undo}
        onRedo={g.redo}
        onLayout={autoLayout}
        onExport={exportJson}
        onSave={() => void save()}
        onPublish={() => void publish()}
        onShowProblems={() => { g.select(null); setTab('properties'); }}
      />
      {restorable && (
        <div className="banner" role="alert">
          {t('editor.restoreFound', { t: fmtTime(restorable.saved_at) })}
          <button type="button" className="primary small" onClick={() => { loadVersion(restorable.doc); setRestorable(null); }}>{t('editor.restore')}</button>
          <button type="button" className="small" onClick={() => { clearLocalDraft(flowId); setRestorable(null); }}>{t('editor.discard')}</button>
        </div>
      )}
      <div className="editor-body">
        <Palette onAdd={(type) => addNode(type)} />
        {comparing ? (
          <CompareCanvas comparison={comparison!} teamName={info.teamName} onClose={() => setTab('properties')}
            onSelect={(id) => setComparison((c) => c && { ...c, selected: id })} />
        ) : (
          <FlowCanvas
            nodes={nodes}
            edges={edges}
            info={info}
            onNodesChange={g.onNodesChange}
            onEdgesChange={g.onEdgesChange}
            onConnect={g.onConnect}
            onConnectToEmpty={(source, port, at) => setPicker({ source, port, at })}
            onDropType={addNode}
            onNodeDragStart={() => g.record()}
            loading={loading}
          />
        )}
        {picker && <NodePicker at={picker.at} onPick={pickConnected} onClose={() => setPicker(null)} />}
        {publishConfirm && (
          <ConfirmDialog message={t('replay.publishConfirm', { summary: publishConfirm })} confirmLabel={t('replay.publishAnyway')}
            onCancel={() => setPublishConfirm(null)} onConfirm={() => { setPublishConfirm(null); void publish(true); }} />
        )}
        <SideTabs tab={tab} onTab={setTab}>
          {tab === 'properties' && (
            <PropertyPanel
              nodes={nodes}
              edges={edges}
              selected={selected}
              meta={meta}
              problems={problems}
              scopes={validation?.scopes ?? {}}
              credentials={credentials}
              credentialTypes={credentialTypes}
              onCredentialCreated={(c) => { setCredentials((cs) => [...cs, c]); notify(t('credential.created', { name: c.name })); }}
              onTeamCreated={(tm) => { setTeams((ts) => [...ts, tm]); notify(t('team.created', { name: tm.name })); }}
              teams={teams}
              onMeta={setMeta}
              onNodeData={g.updateNodeData}
              onRename={g.renameNode}
              onDelete={g.deleteNodes}
              onSelect={selectNode}
              onConnectPort={g.connect}
              onDisconnect={g.disconnect}
              onExportTemplate={flowId ? () => void exportTemplate() : undefined}
              webhookUrl={flowId ? `${location.origin}/api/v1/hooks/${flowId}` : undefined}
              webhookLive={!!summary?.webhook_url}
              flowId={flowId ?? undefined}
              ensureSaved={ensureSaved}
            />
          )}
          {tab === 'test' && (
            <>
            <TestRunPanel
              flowId={flowId}
              triggerSample={trigger?.data.config.sample}
              blockedReason={validation && !validation.valid ? t('test.invalid') : null}
              run={testRun.run}
              busy={testRun.busy}
              onRun={(d, dry) => void runTest(d, dry)}
              onClear={testRun.clear}
              onFocusNode={selectNode}
            />
            <ReplayPanel flowId={flowId} latestVersion={summary?.latest_version} publishedVersion={summary?.published_version}
              ensureSaved={ensureSaved} onMarks={setReplayMarks} />
            </>
          )}
          {tab === 'versions' && (
            <VersionsPanel flowId={flowId} refreshKey={versionsKey} onLoad={loadVersion} comparison={comparison} onCompare={setComparison}
              onPublished={() => { setVersionsKey((k) => k + 1); if (flowId) void api.getFlow(flowId).then(setSummary); }} />
          )}
          {tab === 'runs' && <FlowRunsPanel flowId={flowId} />}
        </SideTabs>
      </div>
    </div>
  );
}
