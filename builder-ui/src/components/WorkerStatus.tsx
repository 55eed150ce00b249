import { useEffect, useState } from 'react';
import { api } from '../api/client';
import { useI18n } from '../i18n';

/** How often the header asks whether workers are alive. */
const POLL_MS = 30_000;

/**
 * Warns in the header when the server reports no live worker: runs would then sit queued with no
 * other sign. Says nothing when workers are up or the status cannot be read (the pages report
 * their own errors).
 */
export function WorkerStatus() {
  const { t } = useI18n();
  const [noWorkers, setNoWorkers] = useState(false);
  useEffect(() => {
    let live = true;
    const check = () => api.status().then(
      (s) => { if (live) setNoWorkers(s.status === 'no_workers'); },
      () => { if (live) setNoWorkers(false); },
    );
    check();
    const timer = setInterval(check, POLL_MS);
    return () => { live = false; clearInterval(timer); };
  }, []);
  if (!noWorkers) return null;
  return <span className="worker-alert" role="status" title={t('status.noWorkersHelp')}>{t('status.noWorkers')}</span>;
}
