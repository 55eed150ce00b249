import { useI18n, type MessageKey } from '../i18n';

const KNOWN = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled', 'skipped', 'pending', 'replay-added', 'replay-removed'];

export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const label = KNOWN.includes(status) ? t(`runs.status.${status}` as MessageKey) : status;
  return <span className={`badge status-${status}`}>{label}</span>;
}
