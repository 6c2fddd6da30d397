// A tenant's webhook subscriptions. The list and creation (the secret shown once); one subscription's page: edit,
// rotate the secret (shown once), send a test, the delivery log (status, latency, response code), replay, delete.
// /api/v1/tenants/{tenant}/webhooks[/{id}[/rotate-secret|/test|/deliveries|/replay]].

import { h, field, form, checkboxes, pageHeading, when, code, badge, muted, announce, confirmAction, secretOnce, errorBox } from './ui.js';
import { CursorList } from './list.js';
import { segment } from './api.js';

export const EVENT_TYPES = ['user.created', 'user.updated', 'user.deactivated', 'user.reactivated', 'user.deleted',
  'group.created', 'group.updated', 'group.deleted', 'group.members.added', 'group.members.removed'];

function state(hook) {
  if (!hook.enabled) return badge(hook.disabled_reason ? `disabled: ${hook.disabled_reason}` : 'disabled', 'bad');
  if (hook.paused_at) return badge('paused', 'warn');
  return badge('active', 'good');
}

const eventTypes = (hook) => (hook.event_types?.length ? hook.event_types.join(', ') : 'every type');

export default async function webhooks(context) {
  if (context.params[0]) return subscription(context, context.params[0]);
  const { api, tenant, main } = context;
  const base = `/api/v1/tenants/${segment(tenant.name)}/webhooks`;
  const revealed = h('div', { class: 'revealed' });
  const list = new CursorList({
    caption: `Webhook subscriptions of ${tenant.name}`,
    columns: [
      { label: 'URL', value: (w) => h('a', { href: `#/t/${encodeURIComponent(tenant.name)}/webhooks/${w.id}` }, w.url) },
      { label: 'Description', value: (w) => w.description || muted('—') },
      { label: 'Events', value: eventTypes },
      { label: 'State', value: state },
      { label: 'Position', value: (w) => String(w.position) },
      { label: 'Created', value: (w) => when(w.created) },
    ],
    fetchPage: (cursor) => api.get(base, { cursor }),
    empty: 'No webhook subscriptions yet.',
  });
  const url = field({ label: 'URL', name: 'url', type: 'url', required: true, hint: 'Where Roster POSTs each event, signed as a Standard Webhook.' });
  const description = field({ label: 'Description', name: 'description' });
  const types = checkboxes({ legend: 'Event types', name: 'event_types', choices: EVENT_TYPES.map((t) => [t, t]), hint: 'None chosen: every type.' });
  const create = form({
    label: 'Create a webhook subscription', fields: [url, description, types], submit: 'Create subscription',
    action: async (values, node) => {
      const body = { url: values.url };
      if (values.description) body.description = values.description;
      if (values.event_types.length) body.event_types = values.event_types;
      const created = await api.post(base, body);
      node.reset();
      revealed.replaceChildren(secretOnce({
        title: `Subscription to ${created.url} created`, secret: created.secret, what: 'signing secret',
        details: [['Verify with', 'any Standard Webhooks library (webhook-id, webhook-timestamp, webhook-signature)'],
          ['Settings', h('a', { href: `#/t/${encodeURIComponent(tenant.name)}/webhooks/${created.id}` }, 'Open the subscription')]],
      }));
      await list.load();
    },
  });
  main.append(...pageHeading(`Webhooks · ${tenant.name}`, 'Subscriptions that push the tenant\'s events to a URL, in order, at least once.'),
    h('section', { 'aria-labelledby': 'create-hook' }, h('h2', { id: 'create-hook' }, 'Create a subscription'), create, revealed),
    h('section', { 'aria-labelledby': 'hook-list' }, h('h2', { id: 'hook-list' }, 'Subscriptions'), list.node));
  await list.load();
}

async function subscription({ api, tenant, main }, id) {
  const base = `/api/v1/tenants/${segment(tenant.name)}/webhooks/${segment(id)}`;
  const back = `#/t/${encodeURIComponent(tenant.name)}/webhooks`;
  let hook = await api.get(base);
  const summary = h('dl', { class: 'facts' });
  const showSummary = () => summary.replaceChildren(...[
    ['URL', code(hook.url)], ['Description', hook.description || muted('—')], ['Events', eventTypes(hook)], ['State', state(hook)],
    ['Position', `${hook.position} (the last event delivered)`], ['Created', when(hook.created)], ['Updated', when(hook.updated)],
    hook.previous_secret_expires_at ? ['Previous secret signs until', when(hook.previous_secret_expires_at)] : null,
    hook.replay_through != null ? ['Replaying', `events up to #${hook.replay_through}, then on from #${hook.resume_position}`] : null,
  ].filter(Boolean).flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
  showSummary();
  const revealed = h('div', { class: 'revealed' });
  const outcome = h('div', { class: 'outcome' });

  const rotate = async () => {
    const sure = await confirmAction({
      title: 'Rotate the signing secret?',
      message: 'Roster signs with a new secret from now on; the current one keeps signing beside it for a while, so receivers can switch without losing a delivery.',
      confirm: 'Rotate secret', danger: false,
    });
    if (!sure) return;
    try {
      hook = await api.post(`${base}/rotate-secret`);
      showSummary();
      revealed.replaceChildren(secretOnce({ title: 'New signing secret', secret: hook.secret, what: 'signing secret' }));
    } catch (error) { outcome.replaceChildren(errorBox(error)); }
  };
  const test = async () => {
    outcome.replaceChildren(h('p', { role: 'status' }, 'Sending a test event…'));
    try {
      const attempt = await api.post(`${base}/test`);
      const text = attempt.outcome === 'succeeded'
        ? `Test delivered: ${attempt.status_code} in ${attempt.latency_ms} ms.`
        : `Test failed${attempt.status_code ? ` with ${attempt.status_code}` : ''}: ${attempt.error ?? attempt.outcome}.`;
      outcome.replaceChildren(h('p', { role: 'status', class: attempt.outcome === 'succeeded' ? 'good-text' : 'bad-text' }, text));
      await deliveries.reload();
    } catch (error) { outcome.replaceChildren(errorBox(error)); }
  };
  // One event (through = itself), a range (through a later event), or everything from an event on (no through).
  const replay = async ({ from, through, label }) => {
    const sure = await confirmAction({
      title: `Replay ${label}?`,
      message: through
        ? 'Those events (of the subscribed types) are sent again, in order; then deliveries carry on from where they were. Receivers must deduplicate by webhook-id.'
        : 'That event and every later one of the subscribed types are sent again, in order. Receivers must deduplicate by webhook-id.',
      confirm: 'Replay', danger: false,
    });
    if (!sure) return;
    try {
      const body = { event_id: from };
      if (through) body.through_event_id = through;
      hook = await api.post(`${base}/replay`, body);
      showSummary();
      outcome.replaceChildren(h('p', { role: 'status' }, `Replay of ${label} started; its deliveries follow in the log.`));
    } catch (error) { outcome.replaceChildren(errorBox(error)); }
  };
  const remove = async () => {
    const sure = await confirmAction({
      title: 'Delete this subscription?',
      message: `Nothing more is sent to ${hook.url}, and its delivery log goes with it. This cannot be undone.`,
      confirm: 'Delete subscription',
    });
    if (!sure) return;
    try {
      await api.delete(base);
      announce('Subscription deleted.');
      location.hash = back;
    } catch (error) { outcome.replaceChildren(errorBox(error)); }
  };

  const deliveries = new CursorList({
    caption: 'Delivery attempts',
    columns: [
      { label: 'Attempted', value: (d) => when(d.attempted_at) },
      { label: 'Event', value: (d) => (d.event_sequence != null ? `#${d.event_sequence}` : 'test') },
      { label: 'Attempt', value: (d) => String(d.attempt) },
      { label: 'Outcome', value: (d) => badge(d.outcome, { succeeded: 'good', retrying: 'warn' }[d.outcome] ?? 'bad') },
      { label: 'Response', value: (d) => (d.status_code != null ? String(d.status_code) : muted('none')) },
      { label: 'Latency', value: (d) => `${d.latency_ms} ms` },
      { label: 'Error', value: (d) => d.error ?? '' },
      { label: 'Next retry', value: (d) => (d.next_retry_at ? when(d.next_retry_at) : '') },
      { label: 'Replay', value: (d) => (d.event_sequence != null ? h('div', { class: 'row-actions' },
        h('button', { type: 'button', onclick: () => replay({ from: d.event_id, through: d.event_id, label: `event ${d.event_sequence}` }) }, 'This event', h('span', { class: 'visually-hidden' }, ` (replay event ${d.event_sequence})`)),
        h('button', { type: 'button', onclick: () => replay({ from: d.event_id, label: `from event ${d.event_sequence} on` }) }, 'From here on', h('span', { class: 'visually-hidden' }, ` (replay from event ${d.event_sequence})`))) : '') },
    ],
    fetchPage: (cursor) => api.get(`${base}/deliveries`, { cursor }),
    empty: 'No deliveries yet.',
  });

  // The log and the subscription's position move together: read both again.
  const refresh = async () => {
    try {
      [hook] = await Promise.all([api.get(base), deliveries.reload()]);
      showSummary();
      announce('Delivery log refreshed.');
    } catch (error) { outcome.replaceChildren(errorBox(error)); }
  };
  const url = field({ label: 'URL', name: 'url', type: 'url', value: hook.url, required: true });
  const description = field({ label: 'Description', name: 'description', value: hook.description ?? '' });
  const types = checkboxes({ legend: 'Event types', name: 'event_types', choices: EVENT_TYPES.map((t) => [t, t]), checked: hook.event_types ?? [], hint: 'None chosen: every type.' });
  const enabled = field({ label: 'Enabled (deliveries run)', name: 'enabled', type: 'checkbox', value: hook.enabled });
  const edit = form({
    label: 'Edit the subscription', fields: [url, description, types, enabled], submit: 'Save changes',
    action: async (values) => {
      hook = await api.patch(base, {
        url: values.url, description: values.description,
        event_types: values.event_types.length ? values.event_types : null, enabled: values.enabled,
      });
      showSummary();
      announce('Subscription saved.');
    },
  });
  const replayFrom = form({
    label: 'Replay events',
    fields: [
      field({ label: 'First event id', name: 'event_id', required: true, hint: 'An event of this tenant (the change feed shows each event\'s id).', attributes: { spellcheck: 'false' } }),
      field({ label: 'Last event id', name: 'through', hint: 'The end of the range, included; the same id for that one event; empty for every event from the first on.', attributes: { spellcheck: 'false' } }),
    ],
    submit: 'Replay',
    action: async (values) => replay({
      from: values.event_id, through: values.through || undefined,
      label: !values.through ? 'from that event on' : values.through === values.event_id ? 'that event' : 'that range of events',
    }),
  });

  main.append(...pageHeading(`Webhook · ${hook.url}`),
    h('p', {}, h('a', { href: back }, '← All subscriptions of ', tenant.name)),
    summary,
    h('div', { class: 'actions toolbar' },
      h('button', { type: 'button', class: 'primary', onclick: test }, 'Send a test event'),
      h('button', { type: 'button', onclick: rotate }, 'Rotate secret'),
      h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete subscription')),
    outcome, revealed,
    h('section', { 'aria-labelledby': 'delivery-log' }, h('h2', { id: 'delivery-log' }, 'Delivery log'),
      h('p', { class: 'hint' }, 'Latest attempts first. ', h('button', { type: 'button', onclick: refresh }, 'Refresh the log')),
      deliveries.node),
    h('section', { 'aria-labelledby': 'replay-heading' }, h('h2', { id: 'replay-heading' }, 'Replay'), replayFrom),
    h('section', { 'aria-labelledby': 'edit-hook' }, h('h2', { id: 'edit-hook' }, 'Edit'), edit));
  await deliveries.load();
}
