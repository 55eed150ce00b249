import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { Credential, Problem, Team, Template } from '../api/types';
import { useI18n } from '../i18n';
import { useRouter } from '../router';

/** Creates a draft flow from a template: name, parameters, and which credential and team to use for each. */
export function TemplateDialog({ template, onClose }: { template: Template; onClose: () => void }) {
  const { t, lt, pt } = useI18n();
  const { navigate } = useRouter();
  const [name, setName] = useState(lt(template.title));
  const [params, setParams] = useState<Record<string, unknown>>(
    () => Object.fromEntries((template.parameters ?? []).map((p) => [p.name, p.default ?? (p.type === 'boolean' ? false : '')])),
  );
  const [credentials, setCredentials] = useState<Credential[]>([]);
  const [teams, setTeams] = useState<Team[]>([]);
  const [credMap, setCredMap] = useState<Record<string, string>>({});
  const [teamMap, setTeamMap] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => {
    first.current?.focus();
    api.credentials().then((cs) => {
      setCredentials(cs);
      setCredMap(Object.fromEntries((template.credentials ?? []).map((need) => {
        const ofType = cs.filter((c) => c.type === need.type);
        return [need.name, (ofType.find((c) => c.name === need.name) ?? (ofType.length === 1 ? ofType[0] : undefined))?.id ?? ''];
      })));
    }, () => {});
    api.teams().then((ts) => {
      setTeams(ts);
      setTeamMap(Object.fromEntries((template.teams ?? []).map((need) => [need.name, ts.find((x) => x.name === need.name)?.id ?? ''])));
    }, () => {});
  }, [template]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblems([]);
    setError(null);
    try {
      const clean = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).filter(([, v]) => v));
      const flow = await api.importTemplate({
        template_id: template.id, name, parameters: params, credentials: clean(credMap), teams: clean(teamMap),
      });
      navigate(`/flows/${flow.id}`);
    } catch (err) {
      const ae = err as ApiError;
      setProblems(ae.problems ?? []);
      setError(ae.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" onMouseDown={onClose}>
      <form
        className="modal wide"
        role="dialog"
        aria-modal="true"
        aria-labelledby="tpl-title"
        onMouseDown={(e) => e.stopPropagation()}
        onKeyDown={(e) => { if (e.key === 'Escape') onClose(); }}
        onSubmit={(e) => void submit(e)}
      >
        <h2 id="tpl-title">{lt(template.title)}</h2>
        {template.description && <p className="muted small">{lt(template.description)}</p>}
        <div className="field">
          <label htmlFor="tpl-name">{t('editor.name')}</label>
          <input id="tpl-name" ref={first} type="text" value={name} onChange={(e) => setName(e.target.value)} required />
        </div>
        {(template.parameters ?? []).length > 0 && <h3>{t('templates.parameters')}</h3>}
        {(template.parameters ?? []).map((p) => (
          <div className="field" key={p.name}>
            <label htmlFor={`tpl-p-${p.name}`}>{lt(p.title) || p.name}</label>
            {p.type === 'boolean' ? (
              <input id={`tpl-p-${p.name}`} type="checkbox" checked={params[p.name] === true}
                onChange={(e) => setParams({ ...params, [p.name]: e.target.checked })} />
            ) : (
              <input id={`tpl-p-${p.name}`} type={p.type === 'number' ? 'number' : 'text'} value={String(params[p.name] ?? '')}
                onChange={(e) => setParams({ ...params, [p.name]: p.type === 'number' ? (e.target.value === '' ? '' : Number(e.target.value)) : e.target.value })} />
            )}
            {lt(p.description) && <div className="help">{lt(p.description)}</div>}
          </div>
        ))}
        {(template.credentials ?? []).length > 0 && <h3>{t('templates.credentials')}</h3>}
        {(template.credentials ?? []).map((need) => {
          const list = credentials.filter((c) => c.type === need.type);
          return (
            <div className="field" key={need.name}>
              <label htmlFor={`tpl-c-${need.name}`}>{lt(need.description) || need.name} <span className="muted small">({need.type})</span></label>
              <select id={`tpl-c-${need.name}`} value={credMap[need.name] ?? ''} onChange={(e) => setCredMap({ ...credMap, [need.name]: e.target.value })}>
                <option value="">{t('common.choose')}</option>
                {list.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
              </select>
              {list.length === 0 && <div className="muted small">{t('panel.noCredentials', { types: need.type })}</div>}
            </div>
          );
        })}
        {(template.teams ?? []).length > 0 && <h3>{t('templates.teams')}</h3>}
        {(template.teams ?? []).map((need) => (
          <div className="field" key={need.name}>
            <label htmlFor={`tpl-t-${need.name}`}>{need.name}{lt(need.description) && <span className="muted small"> — {lt(need.description)}</span>}</label>
            <select id={`tpl-t-${need.name}`} value={teamMap[need.name] ?? ''} onChange={(e) => setTeamMap({ ...teamMap, [need.name]: e.target.value })}>
              <option value="">{t('common.choose')}</option>
              {teams.map((tm) => <option key={tm.id} value={tm.id}>{tm.name}</option>)}
            </select>
          </div>
        ))}
        {error && (
          <div className="field-error" role="alert">
            {problems.length ? <ul>{problems.map((p, i) => <li key={i}>{p.node_id ? `${p.node_id}: ` : ''}{pt(p)}</li>)}</ul> : error}
          </div>
        )}
        <div className="modal-actions">
          <button type="button" onClick={onClose}>{t('common.cancel')}</button>
          <button type="submit" className="primary" disabled={busy || !name.trim()}>{t('templates.create')}</button>
        </div>
      </form>
    </div>
  );
}
