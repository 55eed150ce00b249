import { useState } from 'react';
import { api } from '../api/client';
import type { Team } from '../api/types';
import { useI18n } from '../i18n';

/**
 * Creates a team, with its first member if one is given, wherever a team is chosen (a node's
 * panel, template import), like the inline credential form. Always nested in another form: a group.
 */
export function TeamForm({ idPrefix, defaultName = '', onCreated }: {
  idPrefix: string;
  defaultName?: string;
  onCreated: (team: Team) => void;
}) {
  const { t } = useI18n();
  const [name, setName] = useState(defaultName);
  const [member, setMember] = useState({ name: '', email: '', phone: '' });
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    setError('');
    if (!name.trim()) { setError(t('team.nameMissing')); return; }
    setBusy(true);
    try {
      const team = await api.createTeam(name.trim());
      const m = member.name.trim()
        ? [await api.addMember(team.id, { name: member.name.trim(), email: member.email.trim(), phone: member.phone.trim() })]
        : [];
      onCreated({ ...team, members: m });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const input = (key: 'name' | 'email' | 'phone', label: string, placeholder: string) => (
    <div className="field">
      <label htmlFor={`${idPrefix}-m-${key}`}>{label}</label>
      <input id={`${idPrefix}-m-${key}`} type="text" value={member[key]} placeholder={placeholder}
        onChange={(e) => setMember({ ...member, [key]: e.target.value })} />
    </div>
  );
  return (
    <div className="settings-form inline-team" role="group" aria-label={t('team.form')}>
      <div className="field">
        <label htmlFor={`${idPrefix}-name`}>{t('team.name')} <span className="req">*</span></label>
        <input id={`${idPrefix}-name`} type="text" value={name} placeholder="Support" onChange={(e) => setName(e.target.value)} />
      </div>
      <fieldset className="team-member">
        <legend>{t('team.member')}</legend>
        {input('name', t('settings.name'), 'Ana Li')}
        {input('phone', t('settings.phone'), '+8613800138000')}
        {input('email', t('settings.email'), 'ana@example.com')}
      </fieldset>
      {error && <p className="field-error" role="alert">{error}</p>}
      <button type="button" className="primary" disabled={busy} onClick={() => void submit()}>{t('team.save')}</button>
    </div>
  );
}
