import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api } from '../api/client';
import type { Credential, CredentialType, Team } from '../api/types';
import { useI18n } from '../i18n';
import { useNotify } from '../components/Toasts';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { UsersSection } from './UsersSection';
import { useMaybeAuth } from '../auth';
import { CredentialForm } from '../components/CredentialForm';

/** Users, credentials and teams (admins): what flows refer to by name. Secrets go in and are never shown again. */
export function SettingsPage() {
  const { t } = useI18n();
  const signedIn = useMaybeAuth() !== null;
  return (
    <section className="page">
      <div className="page-head"><h1>{t('settings.heading')}</h1></div>
      {signedIn && <UsersSection />}
      <Credentials />
      <Teams />
    </section>
  );
}

type Pending = { message: string; run: () => Promise<unknown> } | null;

function useConfirm() {
  const [pending, setPending] = useState<Pending>(null);
  const { t } = useI18n();
  const notify = useNotify();
  const dialog = pending && (
    <ConfirmDialog
      message={pending.message}
      danger
      confirmLabel={t('common.delete')}
      onCancel={() => setPending(null)}
      onConfirm={() => {
        const p = pending;
        setPending(null);
        p.run().catch((e: unknown) => notify(e instanceof Error ? e.message : String(e), 'error'));
      }}
    />
  );
  return { ask: setPending, dialog };
}

function Credentials() {
  const { t, lt, fmtTime } = useI18n();
  const notify = useNotify();
  const [items, setItems] = useState<Credential[] | null>(null);
  const [types, setTypes] = useState<CredentialType[]>([]);
  const { ask, dialog } = useConfirm();
  const load = useCallback(() => api.credentials().then(setItems, () => setItems([])), []);
  useEffect(() => {
    load();
    api.credentialTypes().then(setTypes, () => setTypes([]));
  }, [load]);
  const titleOf = (typ: string) => {
    const s = types.find((x) => x.type === typ);
    return s ? lt(s.title) : typ;
  };
  return (
    <section className="settings-section" aria-labelledby="credentials-heading">
      <h2 id="credentials-heading">{t('settings.credentials')}</h2>
      <p className="muted small">{t('settings.credentialsHelp')}</p>
      {items === null && <p className="muted">{t('common.loading')}</p>}
      {items?.length === 0 && <p className="empty">{t('settings.noCredentials')}</p>}
      {items && items.length > 0 && (
        <table className="table">
          <thead><tr><th>{t('settings.name')}</th><th>{t('settings.type')}</th><th>{t('settings.created')}</th><th /></tr></thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id} data-credential={c.name}>
                <td>{c.name}</td>
                <td>{titleOf(c.type)}</td>
                <td>{fmtTime(c.created_at)}</td>
                <td className="actions">
                  <button type="button" className="danger" aria-label={`${t('common.delete')}: ${c.name}`}
                    onClick={() => ask({ message: t('settings.deleteCredential', { name: c.name }), run: () => api.deleteCredential(c.id).then(load) })}>
                    {t('common.delete')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <CredentialForm types={types} onCreated={(c) => { notify(t('settings.credentialSaved', { name: c.name })); load(); }} />
      {dialog}
    </section>
  );
}

function Teams() {
  const { t } = useI18n();
  const notify = useNotify();
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [name, setName] = useState('');
  const { ask, dialog } = useConfirm();
  const load = useCallback(() => api.teams().then(setTeams, () => setTeams([])), []);
  useEffect(() => { load(); }, [load]);
  const fail = (e: unknown) => notify(e instanceof Error ? e.message : String(e), 'error');
  const addTeam = (e: FormEvent) => {
    e.preventDefault();
    api.createTeam(name.trim()).then(() => { setName(''); load(); }, fail);
  };
  return (
    <section className="settings-section" aria-labelledby="teams-heading">
      <h2 id="teams-heading">{t('settings.teams')}</h2>
      <p className="muted small">{t('settings.teamsHelp')}</p>
      {teams === null && <p className="muted">{t('common.loading')}</p>}
      {teams?.map((team) => (
        <div key={team.id} className="team" data-team={team.name}>
          <div className="team-head">
            <h3>{team.name}</h3>
            <button type="button" className="danger" aria-label={`${t('common.delete')}: ${team.name}`}
              onClick={() => ask({ message: t('settings.deleteTeam', { name: team.name }), run: () => api.deleteTeam(team.id).then(load) })}>
              {t('common.delete')}
            </button>
          </div>
          <table className="table">
            <thead><tr><th>{t('settings.name')}</th><th>{t('settings.email')}</th><th>{t('settings.phone')}</th><th>{t('settings.active')}</th><th /></tr></thead>
            <tbody>
              {team.members.map((m) => (
                <tr key={m.id}>
                  <td>{m.name}</td>
                  <td>{m.email}</td>
                  <td>{m.phone}</td>
                  <td>
                    <input type="checkbox" checked={m.active} aria-label={`${t('settings.active')}: ${m.name}`}
                      onChange={(e) => api.updateMember({ ...m, active: e.target.checked }).then(load, fail)} />
                  </td>
                  <td className="actions">
                    <button type="button" aria-label={`${t('common.remove')}: ${m.name}`}
                      onClick={() => ask({ message: t('settings.removeMember', { name: m.name }), run: () => api.deleteMember(m.id).then(load) })}>
                      {t('common.remove')}
                    </button>
                  </td>
                </tr>
              ))}
              <AddMember teamId={team.id} onAdded={load} />
            </tbody>
          </table>
        </div>
      ))}
      <form className="settings-form inline" onSubmit={addTeam}>
        <label htmlFor="team-name">{t('settings.newTeam')}</label>
        <input id="team-name" type="text" value={name} onChange={(e) => setName(e.target.value)} required placeholder="Support" />
        <button type="submit" className="primary">{t('common.add')}</button>
      </form>
      {dialog}
    </section>
  );
}

function AddMember({ teamId, onAdded }: { teamId: string; onAdded: () => void }) {
  const { t } = useI18n();
  const [m, setM] = useState({ name: '', email: '', phone: '' });
  const [error, setError] = useState('');
  const submit = () => {
    setError('');
    api.addMember(teamId, { name: m.name.trim(), email: m.email.trim(), phone: m.phone.trim() })
      .then(() => { setM({ name: '', email: '', phone: '' }); onAdded(); }, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };
  return (
    <tr className="add-member">
      <td><input type="text" aria-label={t('settings.name')} placeholder={t('settings.name')} value={m.name} onChange={(e) => setM({ ...m, name: e.target.value })} /></td>
      <td><input type="text" aria-label={t('settings.email')} placeholder="ana@example.com" value={m.email} onChange={(e) => setM({ ...m, email: e.target.value })} /></td>
      <td><input type="text" aria-label={t('settings.phone')} placeholder="+8613800138000" value={m.phone} onChange={(e) => setM({ ...m, phone: e.target.value })} /></td>
      <td colSpan={2}>
        <button type="button" disabled={!m.name.trim()} onClick={submit}>{t('settings.addMember')}</button>
        {error && <p className="field-error" role="alert">{error}</p>}
      </td>
    </tr>
  );
}
