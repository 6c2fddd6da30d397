// A tenant's change feed, newest first, following new events while the page is open.
// GET /api/v1/tenants/{tenant}/events: read up to now, then polled with `after` (the feed's cursor) every few seconds;
// new events are put at the top without redrawing the rows already shown.

import { h, pageHeading, when, code, announce, field } from './ui.js';
import { segment } from './api.js';

const FOLLOW_EVERY = 2000; // ms
const SHOWN = 200; // rows kept on the page

const actorText = (actor) => [actor.type, actor.id].filter(Boolean).join(' ');
function summary(event) {
  const data = event.data ?? {};
  if (Array.isArray(data.members)) return `${data.members.length} member(s): ${data.members.map((m) => m.value ?? m).slice(0, 3).join(', ')}${data.members.length > 3 ? '…' : ''}`;
  return data.userName ?? data.displayName ?? '';
}

export default async function feed({ api, tenant, main, onLeave, stillHere }) {
  const path = `/api/v1/tenants/${segment(tenant.name)}/events`;
  const body = h('tbody');
  const row = (e) => h('tr', { 'data-sequence': e.sequence },
    h('th', { scope: 'row' }, String(e.sequence)), h('td', {}, when(e.occurred_at)), h('td', {}, code(e.type)),
    h('td', {}, e.resource_type, ' ', code(e.resource_id)), h('td', {}, summary(e)), h('td', {}, code(actorText(e.actor))),
    h('td', {}, code(e.id)));
  const emptyNote = h('p', { class: 'empty' }, 'No events yet. New ones appear here as they happen.');
  const tableNode = h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `Change feed of ${tenant.name}` },
    h('table', {}, h('caption', { class: 'visually-hidden' }, `Change feed of ${tenant.name}, newest first`),
      h('thead', {}, h('tr', {}, ['Sequence', 'When', 'Type', 'Resource', 'Summary', 'Actor', 'Event id'].map((label) => h('th', { scope: 'col' }, label)))),
      body));
  const follow = field({ label: 'Follow new events', name: 'follow', type: 'checkbox', value: true, hint: 'While this is on, new events appear at the top as they happen.' });
  const state = h('p', { class: 'hint', 'aria-live': 'off' });
  let cursor;

  function show(events) {
    // Newest first: the new events go above the ones shown; the oldest drop off past SHOWN rows.
    for (const event of events) body.prepend(row(event));
    while (body.rows.length > SHOWN) body.lastElementChild.remove();
    emptyNote.hidden = body.rows.length > 0;
  }

  // Read up to the present (the feed is oldest first by cursor).
  let rounds = 0;
  do {
    const page = await api.get(path, { after: cursor, limit: 1000 });
    if (!page.data.length) break;
    show(page.data.slice(-SHOWN));
    cursor = page.next_cursor;
  } while (++rounds < 50);

  let timer = null;
  const tick = async () => {
    if (!stillHere()) return;
    try {
      const page = await api.get(path, { after: cursor, limit: 500 });
      if (page.data.length) {
        show(page.data);
        announce(`${page.data.length} new event${page.data.length === 1 ? '' : 's'}.`);
      }
      cursor = page.next_cursor ?? cursor;
      state.textContent = `Following: checked ${new Date().toLocaleTimeString()}.`;
    } catch (error) {
      state.textContent = `Not following: ${error.message}`;
    }
    if (follow.input.checked && stillHere()) timer = setTimeout(tick, FOLLOW_EVERY);
  };
  follow.input.addEventListener('change', () => {
    clearTimeout(timer);
    if (follow.input.checked) tick(); else state.textContent = 'Paused.';
  });
  onLeave(() => clearTimeout(timer));
  main.append(...pageHeading(`Change feed · ${tenant.name}`, 'Every user and group change, newest first. Applications read the same feed by cursor, or receive it as webhooks.'),
    h('div', { class: 'inline-form' }, follow, state), emptyNote, tableNode);
  emptyNote.hidden = body.rows.length > 0;
  timer = setTimeout(tick, FOLLOW_EVERY);
}
