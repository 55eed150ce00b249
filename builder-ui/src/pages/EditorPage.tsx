import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  ReactFlowProvider, applyEdgeChanges, applyNodeChanges, useReactFlow,
  type Connection, type EdgeChange, type NodeChange,
} from '@xyflow/react';
import { api, ApiError } from '../api/client';
import type { Credential, FlowDoc, FlowSummary, Run, Team, ValidateResult } from '../api/types';
import { TERMINAL } from '../api/types';
import {
  DEFAULT_PORT, defaultConfig, docToGraph, graphToDoc, makeEdge, newNodeId,
  type FlowEdge, type FlowNode, type NodeData,
} from '../flow/model';
import { History } from '../flow/history';
import { layeredLayout } from '../flow/layout';
import { runStepMap } from '../flow/run';
import { clearLocalDraft, loadLocalDraft, saveLocalDraft } from '../flow/localDraft';
import { useI18n } from '../i18n';
import { setLeaveGuard, useRouter, Link } from '../router';
import { useNodeTypes } from '../nodeTypes';
import { useNotify } from '../components/Toasts';
import { FlowCanvas } from '../components/canvas/FlowCanvas';
import type { CanvasInfo } from '../components/canvas/CanvasContext';
import { Palette } from '../components/Palette';
import { PropertyPanel } from '../components/panel/PropertyPanel';
import { TestRunPanel } from '../components/panel/TestRunPanel';
import { VersionsPanel } from '../components/panel/VersionsPanel';
import { FlowRunsPanel } from '../components/panel/FlowRunsPanel';
import { EditorToolbar } from '../components/EditorToolbar';
import { SideTabs, type TabName } from '../components/SideTabs';

type Graph = { nodes: FlowNode[]; edges: FlowEdge[] };
type Meta = { name: string; description: string };
type Clip = { nodes: FlowNode[]; edges: FlowEdge[] };

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
  const [nodes, setNodes] = useState<FlowNode[]>([]);
  const [edges, setEdges] = useState<FlowEdge[]>([]);
  const [savedJson, setSavedJson] = useState('');
  const [summary, setSummary] = useState<Pick<FlowSummary, 'latest_version' | 'published_version' | 'enabled'> | null>(null);
  const [validation, setValidation] = useState<ValidateResult | null>(null);
  const [validating, setValidating] = useState(false);
  const [tab, setTab] = useState<TabName>('properties');
  const [testRun, setTestRun] = useState<Run | null>(null);
  const [testBusy, setTestBusy] = useState(false);
  const [busy, setBusy] = useState(false);
  const [versionsKey, setVersionsKey] = useState(0);
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [teams, setTeams] = useState<Team[]>([]);
  const [, forceRender] = useState(0);
  const [restorable, setRestorable] = useState<{ saved_at: string; doc: FlowDoc } | null>(null);

  const graphRef = useRef<Graph>({ nodes, edges });
  graphRef.current = { nodes, edges };
  const history = useRef(new History<Graph>());
  const lastRecord = useRef<{ key: string; at: number }>({ key: '', at: 0 });
  const clipboard = useRef<Clip | null>(null);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true; // (again, after StrictMode's trial unmount)
    return () => { alive.current = false; };
  }, []);

  // ---- loading ----
  const loadDoc = useCallback((doc: FlowDoc, saved: boolean, draftKey?: string | null) => {
    if (draftKey !== undefined) {
      const local = loadLocalDraft(draftKey);
      setRestorable(local && JSON.stringify(local.doc) !== JSON.stringify(doc) ? local : null);
    }
    const g = docToGraph(doc);
    setNodes(g.nodes);
    setEdges(g.edges);
    const m = { name: doc.name ?? '', description: doc.description ?? '' };
    setMeta(m);
    setSavedJson(saved ? JSON.stringify(graphToDoc(m, g.nodes, g.edges)) : '');
    history.current.clear();
    // (fitView before any node exists would be queued and fire on the first node dropped.)
    if (g.nodes.length) requestAnimationFrame(() => rf.fitView({ padding: 0.25, maxZoom: 1.1 }));
  }, [rf]);

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
      loadDoc(f.definition, true, f.id);
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
    api.teams().then(setTeams, () => {});
  }, []);

  // ---- document, dirty state and validation ----
  const doc = useMemo(() => graphToDoc(meta, nodes, edges), [meta, nodes, edges]);
  const docJson = useMemo(() => JSON.stringify(doc), [doc]);
  // A new flow is only worth keeping once it has a node.
  const dirty = flowId ? docJson !== savedJson : nodes.length > 0;

  useEffect(() => {
    if (loading) return;
    setValidating(true);
    let cancelled = false;
    const h = setTimeout(() => {
      api.validate(doc).then((v) => { if (!cancelled) setValidation({ valid: v.valid, problems: v.problems ?? [], scopes: v.scopes ?? {} }); },
        (e: Error) => { if (!cancelled) notify(e.message, 'error'); })
        .finally(() => { if (!cancelled) setValidating(false); });
    }, 350);
    return () => { cancelled = true; clearTimeout(h); };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [docJson, loading]);

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

  const problems = validation?.problems ?? [];
  const problemsByNode = useMemo(() => {
    const m = new Map<string, typeof problems>();
    for (const p of problems) if (p.node_id) m.set(p.node_id, [...(m.get(p.node_id) ?? []), p]);
    return m;
  }, [problems]);
  const stepByNode = useMemo(() => {
    if (!testRun) return null;
    return runStepMap(testRun, nodes.map((n) => ({ id: n.id, type: n.data.type })), byType);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [testRun, byType]);
  const info = useMemo<CanvasInfo>(() => ({ problemsByNode, stepByNode, readOnly: false }), [problemsByNode, stepByNode]);

  // ---- history ----
  /** Records the graph before a change; edits with the same key in quick succession are one step. */
  const record = useCallback((key = '') => {
    const now = Date.now();
    if (key && key === lastRecord.current.key && now - lastRecord.current.at < 1000) {
      lastRecord.current.at = now;
      return;
    }
    lastRecord.current = { key, at: now };
    history.current.push(graphRef.current);
    forceRender((x) => x + 1);
  }, []);

  const restore = (g: Graph | undefined) => {
    if (!g) return;
    setNodes(g.nodes);
    setEdges(g.edges);
    lastRecord.current = { key: '', at: 0 };
  };
  const undo = () => restore(history.current.undo(graphRef.current));
  const redo = () => restore(history.current.redo(graphRef.current));

  // ---- graph edits ----
  const addNode = useCallback((type: string, position?: { x: number; y: number }) => {
    const spec = byType.get(type);
    const { nodes: ns } = graphRef.current;
    const id = newNodeId(type, new Set(ns.map((n) => n.id)));
    let pos = position;
    if (!pos) {
      const el = document.querySelector('.canvas')?.getBoundingClientRect();
      const c = el ? rf.screenToFlowPosition({ x: el.left + el.width / 2, y: el.top + el.height / 2 }) : { x: 0, y: 0 };
      pos = { x: c.x - 90 + (ns.length % 4) * 20, y: c.y - 30 + (ns.length % 4) * 20 };
    }
    record();
    const node: FlowNode = {
      id, type: 'opsflow', position: pos, selected: true,
      data: { type, name: spec ? lt(spec.title) : type, config: defaultConfig(spec) },
    };
    setNodes([...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node]);
    setEdges((es) => es.map((e) => (e.selected ? { ...e, selected: false } : e)));
    setTab('properties');
  }, [byType, lt, record, rf]);

  const onNodesChange = useCallback((changes: NodeChange<FlowNode>[]) => {
    if (changes.some((c) => c.type === 'remove')) record('delete');
    setNodes((ns) => applyNodeChanges(changes, ns));
  }, [record]);
  const onEdgesChange = useCallback((changes: EdgeChange<FlowEdge>[]) => {
    if (changes.some((c) => c.type === 'remove')) record('delete');
    setEdges((es) => applyEdgeChanges(changes, es));
  }, [record]);
  const connect = useCallback((source: string, port: string, target: string) => {
    const id = makeEdge(source, port, target).id;
    if (graphRef.current.edges.some((e) => e.id === id)) return;
    record();
    setEdges((es) => [...es, makeEdge(source, port, target)]);
  }, [record]);
  const onConnect = useCallback((c: Connection) => {
    if (c.source && c.target) connect(c.source, c.sourceHandle || DEFAULT_PORT, c.target);
  }, [connect]);

  const updateNodeData = (id: string, patch: Partial<NodeData>, key: string) => {
    record(key);
    setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...patch } } : n)));
  };
  const renameNode = (from: string, to: string) => {
    record();
    setNodes((ns) => ns.map((n) => (n.id === from ? { ...n, id: to } : n)));
    setEdges((es) => es.map((e) => {
      if (e.source !== from && e.target !== from) return e;
      const s = e.source === from ? to : e.source;
      const tg = e.target === from ? to : e.target;
      return makeEdge(s, e.sourceHandle || DEFAULT_PORT, tg);
    }));
  };
  const deleteNodes = (ids: string[]) => {
    record();
    const set = new Set(ids);
    setNodes((ns) => ns.filter((n) => !set.has(n.id)));
    setEdges((es) => es.filter((e) => !set.has(e.source) && !set.has(e.target)));
  };
  const disconnect = (edgeId: string) => {
    record();
    setEdges((es) => es.filter((e) => e.id !== edgeId));
  };
  const selectNode = (id: string) => {
    setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === id })));
    setTab('properties');
    rf.fitView({ nodes: [{ id }], duration: 250, maxZoom: 1.1 });
  };

  const copy = () => {
    const { nodes: ns, edges: es } = graphRef.current;
    const sel = ns.filter((n) => n.selected);
    if (!sel.length) return;
    const ids = new Set(sel.map((n) => n.id));
    clipboard.current = { nodes: structuredClone(sel), edges: es.filter((e) => ids.has(e.source) && ids.has(e.target)) };
    notify(t('editor.copied', { n: sel.length }));
  };
  const paste = () => {
    const clip = clipboard.current;
    if (!clip) return;
    const { nodes: ns, edges: es } = graphRef.current;
    const taken = new Set(ns.map((n) => n.id));
    const map = new Map<string, string>();
    const pasted = clip.nodes.map((n) => {
      const id = newNodeId(n.id.replace(/_\d+$/, ''), taken);
      taken.add(id);
      map.set(n.id, id);
      return { ...structuredClone(n), id, selected: true, position: { x: n.position.x + 40, y: n.position.y + 40 } };
    });
    record();
    setNodes([...ns.map((n) => ({ ...n, selected: false })), ...pasted]);
    setEdges([...es, ...clip.edges.map((e) => makeEdge(map.get(e.source)!, e.sourceHandle || DEFAULT_PORT, map.get(e.target)!))]);
    clipboard.current = { nodes: pasted.map((n) => ({ ...n, selected: false })), edges: clip.edges.map((e) => makeEdge(map.get(e.source)!, e.sourceHandle || DEFAULT_PORT, map.get(e.target)!)) };
  };

  const autoLayout = () => {
    const { nodes: ns, edges: es } = graphRef.current;
    const portOrder = (id: string, port: string) => {
      const n = ns.find((x) => x.id === id);
      const ports = byType.get(n?.data.type ?? '')?.ports ?? [];
      return Math.max(0, ports.indexOf(port));
    };
    const pos = layeredLayout(ns, es, portOrder);
    record();
    setNodes(ns.map((n) => ({ ...n, position: pos[n.id] ?? n.position })));
    requestAnimationFrame(() => rf.fitView({ padding: 0.25, maxZoom: 1.1, duration: 200 }));
  };

  // Keyboard shortcuts (Delete is handled by the canvas).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || !(e.ctrlKey || e.metaKey)) return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey) { e.preventDefault(); undo(); }
      else if ((k === 'z' && e.shiftKey) || k === 'y') { e.preventDefault(); redo(); }
      else if (k === 'c') { copy(); }
      else if (k === 'v') { e.preventDefault(); paste(); }
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
      clearLocalDraft(flowId);
      clearLocalDraft(res.id);
      setSummary(res);
      setVersionsKey((k) => k + 1);
      if (!flowId) {
        setFlowId(res.id);
        navigate(`/flows/${res.id}`, null, true);
      }
      notify(t('editor.saved', { v: res.version?.version ?? res.latest_version }));
      return res.id;
    } catch (e) {
      const err = e as ApiError;
      if (err.problems?.length) setValidation((v) => ({ valid: false, problems: err.problems, scopes: v?.scopes ?? {} }));
      notify(t('editor.saveFailed', { msg: err.message }), 'error');
      return null;
    } finally {
      if (alive.current) setBusy(false);
    }
  };

  const ensureSaved = async (): Promise<string | null> => (dirty || !flowId ? save() : flowId);

  const publish = async () => {
    const id = await ensureSaved();
    if (!id) return;
    setBusy(true);
    try {
      const res = await api.publish(id);
      setSummary(res);
      setVersionsKey((k) => k + 1);
      notify(t('editor.published', { v: res.published_version }));
    } catch (e) {
      const err = e as ApiError;
      if (err.problems?.length) setValidation((v) => ({ valid: false, problems: err.problems, scopes: v?.scopes ?? {} }));
      notify(err.message, 'error');
    } finally { setBusy(false); }
  };

  const runTest = async (data: unknown, dryRun: boolean) => {
    const id = await ensureSaved();
    if (!id) return;
    setTestBusy(true);
    setTestRun(null);
    try {
      const res = await api.runFlow(id, data, dryRun);
      const runId = res.run_ids?.[0];
      if (!runId) { notify(t('test.noRun'), 'error'); return; }
      const deadline = Date.now() + 120_000;
      for (;;) {
        const run = await api.run(runId);
        if (!alive.current) return;
        setTestRun(run);
        if (TERMINAL.includes(run.status) || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 600));
      }
    } catch (e) {
      notify((e as Error).message, 'error');
    } finally {
      if (alive.current) setTestBusy(false);
    }
  };

  const slug = (meta.name || 'flow').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'flow';
  const exportJson = () => download(`${slug}.opsflow.json`, JSON.stringify(doc, null, 2) + '\n');
  const exportTemplate = async () => {
    try {
      download(`${slug}.template.json`, JSON.stringify(await api.flowTemplate(flowId!), null, 2) + '\n');
    } catch (e) { notify((e as Error).message, 'error'); }
  };

  const loadVersion = (d: FlowDoc) => {
    record();
    const g = docToGraph(d);
    setNodes(g.nodes);
    setEdges(g.edges);
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
        canUndo={history.current.canUndo}
        canRedo={history.current.canRedo}
        busy={busy || loading}
        publishBlocked={publishBlocked}
        onUndo={undo}
        onRedo={redo}
        onLayout={autoLayout}
        onExport={exportJson}
        onSave={() => void save()}
        onPublish={() => void publish()}
        onShowProblems={() => { setNodes((ns) => ns.map((n) => ({ ...n, selected: false }))); setTab('properties'); }}
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
        <FlowCanvas
          nodes={nodes}
          edges={edges}
          info={info}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onConnect={onConnect}
          onDropType={addNode}
          onNodeDragStart={() => record()}
        />
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
              teams={teams}
              onMeta={setMeta}
              onNodeData={updateNodeData}
              onRename={renameNode}
              onDelete={deleteNodes}
              onSelect={selectNode}
              onConnectPort={connect}
              onDisconnect={disconnect}
              onExportTemplate={flowId ? () => void exportTemplate() : undefined}
            />
          )}
          {tab === 'test' && (
            <TestRunPanel
              flowId={flowId}
              triggerSample={trigger?.data.config.sample}
              blockedReason={validation && !validation.valid ? t('test.invalid') : null}
              run={testRun}
              busy={testBusy}
              onRun={(d, dry) => void runTest(d, dry)}
              onClear={() => setTestRun(null)}
              onFocusNode={selectNode}
            />
          )}
          {tab === 'versions' && (
            <VersionsPanel flowId={flowId} refreshKey={versionsKey} onLoad={loadVersion}
              onPublished={() => { setVersionsKey((k) => k + 1); if (flowId) void api.getFlow(flowId).then(setSummary); }} />
          )}
          {tab === 'runs' && <FlowRunsPanel flowId={flowId} />}
        </SideTabs>
      </div>
    </div>
  );
}
