import { useState } from 'react';
import type { NodeSpec } from '../../api/types';
import { useI18n } from '../../i18n';

/** Ready-to-paste lines for trying a webhook trigger: curl with the sample, or the Stripe CLI. */
export function webhookCommands(url: string, verify: string, sample: unknown): { label: 'curl' | 'stripe'; text: string }[] {
  const body = JSON.stringify(sample ?? {});
  const out: { label: 'curl' | 'stripe'; text: string }[] = [];
  if (verify === 'stripe') out.push({ label: 'stripe', text: `stripe listen --forward-to '${url}'` });
  out.push({ label: 'curl', text: `curl -X POST '${url}' -H 'Content-Type: application/json' -d '${body.replace(/'/g, `'\\''`)}'` });
  return out;
}

function CopyRow({ id, label, text }: { id: string; label: string; text: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    const el = document.getElementById(id) as HTMLInputElement | null;
    try { await navigator.clipboard.writeText(text); } catch {
      el?.select(); // no clipboard access (plain http): the text is selected to copy by hand
      document.execCommand?.('copy');
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="copy-row">
        <input id={id} type="text" className="mono" readOnly value={text} onFocus={(e) => e.target.select()} />
        <button type="button" className="small" onClick={() => void copy()} aria-label={`${t('webhook.copy')}: ${label}`}>
          {copied ? t('webhook.copied') : t('webhook.copy')}
        </button>
      </div>
    </div>
  );
}

/** The webhook trigger's address with a copy button and a line to send a test delivery. */
export function WebhookBox({ url, live, config, spec }: { url?: string; live: boolean; config: Record<string, unknown>; spec: NodeSpec }) {
  const { t } = useI18n();
  if (!url) return <p className="muted small webhook-box">{t('webhook.saveFirst')}</p>;
  const verify = String(config.verify ?? spec.fields.find((f) => f.name === 'verify')?.default ?? 'none');
  return (
    <div className="webhook-box" data-testid="webhook-box">
      <CopyRow id="webhook-url" label={t('panel.webhookUrl')} text={url} />
      {!live && <p className="muted small">{t('webhook.notLive')}</p>}
      {webhookCommands(url, verify, config.sample).map((c) => (
        <CopyRow key={c.label} id={`webhook-${c.label}`} label={c.label === 'stripe' ? t('webhook.stripe') : t('webhook.curl')} text={c.text} />
      ))}
    </div>
  );
}
