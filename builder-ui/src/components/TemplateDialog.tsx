import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { Credential, CredentialType, Problem, Team, Template } from '../api/types';
import { CredentialForm } from './CredentialForm';
import { TeamForm } from './TeamForm';
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
  const [credentialTypes, setCredentialTypes] = useState<CredentialType[]>([]);
  const [creating, setCreating] = useState<string | null>(null);
  // The needs left empty (when submitting) or refused by the server: marked on their own field.
  const [missing, setMissing] = useState<Set<string>>(new Set());
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
    api.credentialTypes().then(setCredentialTypes, () => {});
    api.teams().then((ts) => {
      setTeams(ts);
      setTeamMap(Object.fromEntries((template.teams ?? []).map((need) => [need.name, ts.find((x) => x.name === need.name)?.id ?? ''])));
    }, () => {});
  }, [template]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const empty = [
      ...(template.credentials ?? []).filter((n) => !credMap[n.name]).map((n) => `cred:${n.name}`),
      ...(template.teams ?? []).filter((n) => !teamMap[n.name]).map((n) => `team:${n.name}`),
    ];
    setMissing(new Set(empty));
    if (empty.length) {
      setProblems([]);
      setError(t('templates.chooseMissing'));
      document.getElementById(`tpl-${empty[0].startsWith('cred:') ? 'c' : 't'}-${empty[0].slice(5)}`)?.focus();
      return;
    }
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
      // A reference the server could not find points at the choice it came from.
      setMissing(new Set((ae.problems ?? []).flatMap((p) => {
        const r = p.params?.rule;
        if (r === 'no_credential' || r === 'credential_type') return [`cred:${String(p.params?.credential)}`];
        if (r === 'no_team') return [`team:${String(p.params?.team)}`];
        return [];
      })));
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
          const bad = missing.has(`cred:${need.name}`);
          return (
            <div className={`field ${bad ? 'invalid' : ''}`} key={need.name} data-need={need.name}>
              <label htmlFor={`tpl-c-${need.name}`}>{lt(need.description) || need.name} <span className="muted small">({need.type})</span></label>
              <select id={`tpl-c-${need.name}`} value={credMap[need.name] ?? ''} aria-invalid={bad || undefined}
                onChange={(e) => { setCredMap({ ...credMap, [need.name]: e.target.value }); setMissing((m) => { const n = new Set(m); n.delete(`cred:${need.name}`); return n; }); }}>
                <option value="">{t('common.choose')}</option>
                {list.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
              </select>
              {bad && <div className="field-error">{t('templates.needChoice')}</div>}
              {list.length === 0 && <div className="muted small">{t('panel.noCredentials', { types: need.type })}</div>}
              <button type="button" className="small link" aria-expanded={creating === need.name}
                onClick={() => setCreating(creating === need.name ? null : need.name)}>{t('credential.create')}</button>
              {creating === need.name && (
                <CredentialForm nested idPrefix={`tpl-new-${need.name}`} types={credentialTypes} only={[need.type]}
                  onCreated={(c) => {
                    setCredentials((cs) => [...cs, c]);
                    setCredMap((m) => ({ ...m, [need.name]: c.id }));
                    setMissing((m) => { const n = new Set(m); n.delete(`cred:${need.name}`); return n; });
                    setCreating(null);
                  }} />
              )}
            </div>
          );
        })}
        {(template.teams ?? []).length > 0 && <h3>{t('templates.teams')}</h3>}
        {(template.teams ?? []).map((need) => (
          <div className={`field ${missing.has(`team:${need.name}`) ? 'invalid' : ''}`} key={need.name} data-need={need.name}>
            <label htmlFor={`tpl-t-${need.name}`}>{need.name}{lt(need.description) && <span className="muted small"> — {lt(need.description)}</span>}</label>
            <select id={`tpl-t-${need.name}`} value={teamMap[need.name] ?? ''} aria-invalid={missing.has(`team:${need.name}`) || undefined}
              onChange={(e) => setTeamMap({ ...teamMap, [need.name]: e.target.value })}>
              <option value="">{t('common.choose')}</option>
              {teams.map((tm) => <option key={tm.id} value={tm.id}>{tm.name}</option>)}
            </select>
            {missing.has(`team:${need.name}`) && <div className="field-error">{t('templates.needChoice')}</div>}
            <button type="button" className="small link" aria-expanded={creating === `team:${need.name}`}
              onClick={() => setCreating(creating === `team:${need.name}` ? null : `team:${need.name}`)}>{t('team.create')}</button>
            {creating === `team:${need.name}` && (
              <TeamForm idPrefix={`tpl-team-${need.name}`} defaultName={need.name} onCreated={(tm) => {
                setTeams((ts) => [...ts, tm]);
                setTeamMap((m) => ({ ...m, [need.name]: tm.id }));
                setMissing((m) => { const n = new Set(m); n.delete(`team:${need.name}`); return n; });
                setCreating(null);
              }} />
            )}
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
