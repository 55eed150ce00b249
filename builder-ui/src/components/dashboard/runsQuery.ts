import type { RunFilterState } from '../RunFilters';

/** A datetime-local input's value (local time, minutes) for an RFC 3339 time. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The runs list's filters from its URL query (?flow_id=&status=&since=&failed_node=). */
export function fromQuery(search: string): { filter: RunFilterState; flowId: string; failedNode: string } {
  const q = new URLSearchParams(search);
  const since = q.get('since');
  return {
    filter: { status: q.get('status') ?? '', since: since ? toLocalInput(since) : '', until: '' },
    flowId: q.get('flow_id') ?? '',
    failedNode: q.get('failed_node') ?? '',
  };
}
