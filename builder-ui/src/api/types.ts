// Types of the opsflow REST API (/api/v1). See the engine's openapi.json.

export type Lang = 'en' | 'zh-CN';
export type LocalText = { en: string; 'zh-CN': string };

export type FieldKind =
  | 'string' | 'template' | 'expr' | 'number' | 'integer' | 'bool' | 'select' | 'keyvalue'
  | 'json' | 'credential' | 'team' | 'duration' | 'stringlist';

export interface FieldOption { value: string; title: LocalText }

export interface FieldSpec {
  name: string;
  kind: FieldKind | string;
  title: LocalText;
  help?: LocalText | string;
  required?: boolean;
  default?: unknown;
  options?: FieldOption[];
  placeholder?: string;
  expr_type?: string;
  credential_types?: string[];
  min?: number;
  max?: number;
  max_len?: number;
  /** Shown only while each named field (its value or default) is one of the values. */
  show_if?: Record<string, string[]>;
}

export type Category = 'trigger' | 'logic' | 'action';

export interface NodeSpec {
  type: string;
  category: Category | string;
  title: LocalText;
  description: LocalText;
  icon?: string;
  fields: FieldSpec[];
  ports: string[];
  output?: unknown;
  side_effect?: boolean;
  /** Markdown. */
  docs?: LocalText | string;
  /** A trigger started by POST /api/v1/hooks/{flow_id}. */
  webhook?: boolean;
}

export interface FlowNodeDoc {
  id: string;
  type: string;
  name?: string;
  config?: Record<string, unknown>;
  position?: { x: number; y: number };
}

export interface FlowEdgeDoc { from: string; to: string; port?: string }

export interface FlowDoc {
  schema: 'opsflow/v1';
  name: string;
  description?: string;
  nodes: FlowNodeDoc[];
  edges: FlowEdgeDoc[];
}

export type RunStatus = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';

export interface RunRef { id: string; status: RunStatus; created_at: string }

export interface FlowSummary {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  latest_version: number;
  published_version: number;
  trigger_type: string;
  event_type: string;
  webhook_url?: string;
  created_at: string;
  updated_at: string;
  last_run: RunRef | null;
}

export interface VersionInfo {
  version: number;
  published: boolean;
  live?: boolean;
  published_at: string | null;
  created_at: string;
  /** Who saved the version and who last published it (from the audit log). */
  created_by?: string;
  published_by?: string;
  definition?: FlowDoc;
}

export interface FlowDetail extends FlowSummary {
  version: VersionInfo;
  definition: FlowDoc;
  /** In answers to create and save: what stops the saved draft from being published. */
  problems?: Problem[];
}

export interface Problem {
  node_id?: string;
  field?: string;
  code: string;
  message: string;
  /** What the message is made of (rule, field, values), for translating it. */
  params?: Record<string, unknown>;
}

export interface ValidateResult {
  valid: boolean;
  problems: Problem[];
  scopes: Record<string, string[]>;
}

export interface EventItem {
  id: string;
  type: string;
  source: string;
  flow_id?: string;
  data: unknown;
  created_at: string;
}

export interface Step {
  node_id: string;
  node_type: string;
  status: string;
  port?: string;
  input: unknown;
  output: unknown;
  error?: string;
  attempt: number;
  started_at: string;
  finished_at: string | null;
  duration_ms: number;
}

export interface Run {
  id: string;
  flow_id: string;
  flow_name?: string;
  flow_version: number;
  event_id: string;
  status: RunStatus;
  dry_run: boolean;
  error?: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  steps?: Step[];
  event?: EventItem;
  /** Who started (manually), retried or cancelled the run, oldest first; absent for a run an event started. */
  history?: RunHistoryItem[];
}

export interface RunHistoryItem { action: 'run.started_manually' | 'run.retried' | 'run.cancelled' | string; actor: string; at: string }

export interface Member { id: string; name: string; email: string; phone: string; active: boolean }
export interface Team { id: string; name: string; description: string; members: Member[] }
export interface Credential { id: string; name: string; type: string; created_at: string }
export interface CredentialField { name: string; title: LocalText; required?: boolean; secret?: boolean; multiline?: boolean; placeholder?: string }
export interface CredentialType { type: string; title: LocalText; description: LocalText; fields: CredentialField[] }

export interface TemplateParam {
  name: string;
  title: LocalText;
  type: 'string' | 'number' | 'boolean' | string;
  default?: unknown;
  description?: LocalText;
}

/** A gallery template (opsflow-template/v1). */
export interface Template {
  template?: string;
  id: string;
  title: LocalText | string;
  description?: LocalText | string;
  category?: string;
  credentials?: { name: string; type: string; description?: LocalText }[];
  teams?: { name: string; description?: LocalText }[];
  parameters?: TemplateParam[];
  flow: FlowDoc;
  samples?: { name: string; event: { type: string; data: unknown } }[];
}

export interface TemplateImport {
  template_id: string;
  name?: string;
  parameters?: Record<string, unknown>;
  credentials?: Record<string, string>;
  teams?: Record<string, string>;
}

export const TERMINAL: RunStatus[] = ['succeeded', 'failed', 'cancelled'];
