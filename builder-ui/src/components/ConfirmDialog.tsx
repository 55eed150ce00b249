import { useEffect, useRef } from 'react';
import { useI18n } from '../i18n';

/** A small modal asking to confirm a destructive or important action. */
export function ConfirmDialog({ message, confirmLabel, danger, onConfirm, onCancel }: {
  message: string;
  confirmLabel?: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const ok = useRef<HTMLButtonElement>(null);
  useEffect(() => { ok.current?.focus(); }, []);
  return (
    <div className="modal-backdrop" onMouseDown={onCancel}>
      <div
        className="modal"
        role="alertdialog"
        aria-modal="true"
        aria-label={message}
        onMouseDown={(e) => e.stopPropagation()}
        onKeyDown={(e) => { if (e.key === 'Escape') onCancel(); }}
      >
        <p>{message}</p>
        <div className="modal-actions">
          <button type="button" onClick={onCancel}>{t('common.cancel')}</button>
          <button type="button" ref={ok} className={danger ? 'danger' : 'primary'} onClick={onConfirm}>
            {confirmLabel ?? t('common.confirm')}
          </button>
        </div>
      </div>
    </div>
  );
}
