// A tenant's change feed, newest first, following new events while the page is open.
// GET /api/v1/tenants/{tenant}/events?order=desc pages toward older events (next_cursor); its first page's poll_cursor,
// passed as `after` without `order`, reads the events committed since, which go on top without redrawing the rest.

import { h, pageHeading, when, code, announce, field, errorBox } from './ui.js';
import { segment } from './api.js';

const FOLLOW_EVERY = 2000; // ms
const PAGE = 50;
const KEPT = 1000; // rows the page keeps; past it the oldest go (and paging older starts again from a reload)

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
  const state = h('p', { class: 'hint' });
  const problem = h('div');
  const olderButton = h('button', { type: 'button', onclick: () => older() }, 'Show older events');
  let olderCursor;
  let pollCursor;

  const settle = () => {
    emptyNote.hidden = body.rows.length > 0;
    olderButton.hidden = !olderCursor;
  };
  async function older() {
    try {
      const page = await api.get(path, { order: 'desc', after: olderCursor, limit: PAGE });
      body.append(...page.data.map(row));
      olderCursor = page.next_cursor;
      settle();
      if (page.data.length) announce(`${page.data.length} older event${page.data.length === 1 ? '' : 's'} shown.`);
    } catch (error) { problem.replaceChildren(errorBox(error)); }
  }

  const first = await api.get(path, { order: 'desc', limit: PAGE });
  body.append(...first.data.map(row));
  olderCursor = first.next_cursor;
  pollCursor = first.poll_cursor;

  let timer = null;
  const tick = async () => {
    if (!stillHere()) return;
    try {
      // Oldest first from the poll cursor: each new event goes on top, so the newest ends up first.
      const page = await api.get(path, { after: pollCursor, limit: 500 });
      for (const event of page.data) body.prepend(row(event));
      if (body.rows.length > KEPT) {
        while (body.rows.length > KEPT) body.lastElementChild.remove();
        olderCursor = undefined;
      }
      if (page.data.length) announce(`${page.data.length} new event${page.data.length === 1 ? '' : 's'}.`);
      pollCursor = page.next_cursor ?? pollCursor;
      settle();
      state.textContent = `Following: checked at ${new Date().toLocaleTimeString()}.`;
    } catch (error) {
      state.textContent = `Not following: ${error.message}`;
    }
    if (follow.input.checked && stillHere()) timer = setTimeout(tick, FOLLOW_EVERY);
  };
  follow.input.addEventListener('change', () => {
    clearTimeout(timer);
    if (follow.input.checked) tick(); else state.textContent = 'Paused: new events are not shown until you follow again.';
  });
  onLeave(() => clearTimeout(timer));
  main.append(...pageHeading(`Change feed · ${tenant.name}`, 'Every user and group change, newest first. Applications read the same feed by cursor, or receive it as webhooks.'),
    h('div', { class: 'inline-form' }, follow, state), problem, emptyNote, tableNode, h('div', { class: 'pager' }, olderButton));
  settle();
  timer = setTimeout(tick, FOLLOW_EVERY);
}
