// The provisioning log of one tenant, shown in the console and in the setup portal: every SCIM request an identity
// provider made with one of the tenant's tokens, newest first, with why a failed one failed. While it is open it
// reads the first page again every few seconds, so "your first request arrived" shows without a reload.

import { h, field, when, code, badge, muted, announce } from './ui.js';
import { CursorList } from './list.js';

const FOLLOW_EVERY = 3000; // ms

export function provisioningLog({ fetchPage, caption, onLeave }) {
  const filters = { outcome: '' };
  const banner = h('p', { class: 'arrival', role: 'status' }, 'Reading the log…');
  let seenAny = null;
  const list = new CursorList({
    caption,
    columns: [
      { label: 'When', value: (e) => when(e.occurred_at) },
      { label: 'Request', value: (e) => code(`${e.method} ${e.path}`) },
      { label: 'Status', value: (e) => badge(String(e.status), e.status < 400 ? 'good' : 'bad') },
      { label: 'Why it failed', value: (e) => (e.status >= 400 ? [e.scim_type ? code(e.scim_type) : null, e.scim_type ? ' ' : '', e.detail ?? ''] : muted('—')) },
      { label: 'Client', value: (e) => e.user_agent ?? muted('—') },
      { label: 'Latency', value: (e) => `${e.latency_ms} ms` },
      { label: 'Request id', value: (e) => (e.request_id ? code(e.request_id) : '') },
    ],
    fetchPage: (cursor) => fetchPage({ cursor, outcome: filters.outcome }),
    empty: 'No SCIM request yet.',
    onPage: (rows, first) => {
      if (!first || filters.outcome) return;
      const arrived = rows.length > 0;
      if (arrived && seenAny === false) announce('Your identity provider\'s first request arrived.');
      seenAny = seenAny || arrived;
      banner.textContent = arrived
        ? `Requests are arriving: the latest at ${new Date(rows[0].occurred_at).toLocaleString()} (${rows[0].method} ${rows[0].path}, ${rows[0].status}).`
        : 'Waiting for the first request from your identity provider… This page updates by itself.';
      banner.dataset.arrived = String(arrived);
    },
  });
  const outcome = field({ label: 'Show', name: 'outcome', options: [['', 'every request'], ['failed', 'failed requests'], ['succeeded', 'succeeded requests']], value: '' });
  outcome.input.addEventListener('change', () => { filters.outcome = outcome.input.value; list.reload(); });
  const timer = setInterval(() => { list.refreshIfIdle().catch(() => {}); }, FOLLOW_EVERY);
  onLeave?.(() => clearInterval(timer));
  const node = h('div', { class: 'provisioning-log' }, banner, h('div', { class: 'filters inline-form' }, outcome), list.node);
  return { node, list, stop: () => clearInterval(timer), start: () => list.load().then(() => { seenAny ??= false; }) };
}
