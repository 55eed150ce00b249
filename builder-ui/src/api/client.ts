import type {
  Credential, CredentialType, EventItem, Member, FlowDetail, FlowDoc, FlowSummary, NodeSpec, Run, Team, Template,
  ValidateResult, VersionInfo, Problem, TemplateImport,
} from './types';

const BASE = '/api/v1';
const TOKEN_KEY = 'opsflow.apiToken';

/** An API key kept by an earlier version of the builder; sent as a bearer token if present. */
function storedToken(): string | null {
  try { return localStorage.getItem(TOKEN_KEY); } catch { return null; }
}

// The session itself is an HttpOnly cookie the browser sends; writes must echo its CSRF token.
let csrfToken = '';
/** Sets the CSRF token of the signed-in session (from sign-in or GET /auth/me). */
export function setCsrfToken(token: string): void { csrfToken = token; }

let onUnauthorized: () => void = () => {};
/** Called when the API answers 401 (signed out or session over): the app shows the sign-in page. */
export function setUnauthorizedHandler(fn: () => void): void { onUnauthorized = fn; }

/** An error answered by the API ({"error":{code,message,details}}) or the network. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details?: { problems?: Problem[] } & Record<string, unknown>,
  ) {
    super(message);
  }
  get problems(): Problem[] { return this.details?.problems ?? []; }
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = storedToken();
  if (token) headers['Authorization'] = 'Bearer ' + token;
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  if (res.status === 401 && !path.startsWith('/auth/')) onUnauthorized();
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try { data = JSON.parse(text); } catch { data = undefined; }
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; details?: ApiError['details'] } })?.error;
    throw new ApiError(res.status, err?.code ?? 'http_' + res.status, err?.message ?? res.statusText, err?.details);
  }
  return data as T;
}

function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? '?' + s : '';
}

export interface Page<T> { items: T[]; next_cursor?: string }
export interface RunFilter { flow_id?: string; status?: string; failed_node?: string; since?: string; until?: string; limit?: number; cursor?: string }

/** GET /status: live workers and the queued backlog. */
export interface ServerStatus { status: 'ok' | 'no_workers'; workers: number; queued_runs: number; oldest_queued_seconds: number }

export const api = {
  status: () => request<ServerStatus>('GET', '/status'),
  nodeTypes: () => request<{ node_types: NodeSpec[] }>('GET', '/node-types').then((r) => r.node_types ?? []),
  listFlows: (q = '', cursor = '') => request<Page<FlowSummary>>('GET', '/flows' + qs({ q, limit: 100, cursor })),
  getFlow: (id: string) => request<FlowDetail>('GET', `/flows/${id}`),
  createFlow: (doc: FlowDoc) => request<FlowDetail>('POST', '/flows', doc),
  saveFlow: (id: string, doc: FlowDoc) => request<FlowDetail>('PUT', `/flows/${id}`, doc),
  setEnabled: (id: string, enabled: boolean) => request<FlowSummary>('PATCH', `/flows/${id}`, { enabled }),
  deleteFlow: (id: string) => request<void>('DELETE', `/flows/${id}`),
  publish: (id: string, version?: number) =>
    request<FlowSummary>('POST', `/flows/${id}/publish`, version === undefined ? {} : { version }),
  versions: (id: string) => request<{ items: VersionInfo[] }>('GET', `/flows/${id}/versions`).then((r) => r.items ?? []),
  version: (id: string, v: number) => request<VersionInfo>('GET', `/flows/${id}/versions/${v}`),
  validate: (doc: FlowDoc) => request<ValidateResult>('POST', '/flows/validate', doc),
  runFlow: (id: string, data: unknown, dryRun: boolean, version?: number) =>
    request<{ event_id: string; run_ids: string[] }>('POST', `/flows/${id}/run`, { data, dry_run: dryRun, version }),
  events: (flowId?: string, limit = 20) =>
    request<{ items: EventItem[] }>('GET', '/events' + qs({ flow_id: flowId, limit })).then((r) => r.items ?? []),
  runs: (f: RunFilter) => request<Page<Run>>('GET', '/runs' + qs({ ...f })),
  run: (id: string) => request<Run>('GET', `/runs/${id}`),
  cancelRun: (id: string) => request<Run>('POST', `/runs/${id}/cancel`),
  retryRun: (id: string, from: 'failed' | 'start') => request<{ run_id: string }>('POST', `/runs/${id}/retry`, { from }),
  teams: () => request<{ items: Team[] }>('GET', '/teams').then((r) => r.items ?? []),
  credentials: () => request<{ items: Credential[] }>('GET', '/credentials').then((r) => r.items ?? []),
  credentialTypes: () => request<{ credential_types: CredentialType[] }>('GET', '/credential-types').then((r) => r.credential_types ?? []),
  createCredential: (name: string, type: string, data: Record<string, string>) => request<Credential>('POST', '/credentials', { name, type, data }),
  deleteCredential: (id: string) => request<void>('DELETE', `/credentials/${id}`),
  createTeam: (name: string) => request<Team>('POST', '/teams', { name }),
  deleteTeam: (id: string) => request<void>('DELETE', `/teams/${id}`),
  addMember: (teamId: string, m: Omit<Member, 'id' | 'active'>) => request<Member>('POST', `/teams/${teamId}/members`, m),
  updateMember: (m: Member) => request<Member>('PUT', `/members/${m.id}`, { name: m.name, email: m.email, phone: m.phone, active: m.active }),
  deleteMember: (id: string) => request<void>('DELETE', `/members/${id}`),
  templates: () => request<{ items: Template[] }>('GET', '/templates').then((r) => r.items ?? []),
  importTemplate: (req: TemplateImport) => request<FlowDetail>('POST', '/templates/import', req),
  flowTemplate: (id: string) => request<Template>('GET', `/flows/${id}/template`),
  testNode: (flowId: string, nodeId: string, body: NodeTestRequest) =>
    request<NodeTestResult>('POST', `/flows/${flowId}/nodes/${encodeURIComponent(nodeId)}/test`, body),
  stats: (window: StatsWindow, flowId?: string) => request<Stats>('GET', '/stats' + qs({ window, flow_id: flowId })),
};

/** POST /flows/{id}/nodes/{node_id}/test: a recorded run's data (run_id) or JSON (input). */
export interface NodeTestRequest { run_id?: string; input?: { event?: unknown; nodes?: Record<string, unknown> } }
export interface NodeTestResult {
  node_id: string; node_type: string; input: unknown; output: unknown; port?: string; error?: string; dry_run: boolean; wait_until?: string;
}

/** GET /stats: the dashboard's numbers for a window. */
export type StatsWindow = '24h' | '7d';
export interface Stats {
  window: StatsWindow; since: string; until: string; percentiles: 'exact' | 'sample'; sample_size?: number;
  totals: Record<string, number>;
  hours: { hour: string; counts: Record<string, number> }[];
  flows: { flow_id: string; flow_name: string; runs: number; counts: Record<string, number>; success_rate: number | null; p50_ms: number | null; p95_ms: number | null }[];
  failing_nodes: { flow_id: string; flow_name: string; node_id: string; node_type: string; failures: number; last_run_id: string }[];
}
