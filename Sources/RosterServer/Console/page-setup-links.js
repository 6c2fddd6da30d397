// Setup links of a tenant: a link lets someone with no Roster account (the customer's IT admin) open the
// connect guide and create this tenant's SCIM token, and nothing else. The secret travels in the link's fragment.
// GET, POST /api/v1/tenants/{tenant}/setup-links; DELETE /api/v1/tenants/{tenant}/setup-links/{id}.

import { h, field, form, pageHeading, when, code, badge, muted, announce, confirmAction, secretOnce, errorBox } from './ui.js';
import { CursorList } from './list.js';
import { segment } from './api.js';

export default async function setupLinks({ api, rights, tenant, main }) {
  const base = `/api/v1/tenants/${segment(tenant.name)}/setup-links`;
  const revealed = h('div', { class: 'revealed' });
  const problems = h('div');
  const state = (link) => (link.revoked ? badge('revoked', 'bad') : new Date(link.expires_at) < new Date() ? badge('expired', 'bad') : badge('open', 'good'));
  const revoke = async (link) => {
    if (!(await confirmAction({ title: `Revoke the setup link “${link.name}”?`, message: 'Whoever holds it can no longer open the guide or create tokens. Tokens it created stay until you revoke them.', confirm: 'Revoke link' }))) return;
    try {
      await api.delete(`${base}/${segment(link.id)}`);
      announce(`Setup link ${link.name} revoked.`);
      await list.load();
    } catch (error) { problems.replaceChildren(errorBox(error)); }
  };
  const list = new CursorList({
    caption: `Setup links of ${tenant.name}`,
    columns: [
      { label: 'Name', value: (l) => l.name },
      { label: 'Prefix', value: (l) => code(`${l.prefix}…`) },
      { label: 'State', value: state },
      { label: 'Expires', value: (l) => when(l.expires_at) },
      { label: 'Tokens created', value: (l) => `${l.tokens_created ?? 0} of ${l.tokens_allowed}` },
      { label: 'Last used', value: (l) => when(l.last_used) },
      { label: 'Created', value: (l) => when(l.created) },
      { label: 'Created by', value: (l) => (l.created_by ? code([l.created_by.type, l.created_by.id ?? l.created_by.subject].filter(Boolean).join(' ')) : muted('—')) },
      { label: 'Actions', value: (l) => (l.revoked ? '' : h('button', { type: 'button', class: 'danger', onclick: () => revoke(l) }, 'Revoke', h('span', { class: 'visually-hidden' }, ` ${l.name}`))) },
    ],
    fetchPage: (cursor) => api.get(base, { cursor }),
    empty: 'No setup links yet.',
  });
  main.append(...pageHeading(`Setup links · ${tenant.name}`, 'A setup link opens the “connect your identity provider” guide for someone without a Roster account, and lets them create this tenant\'s SCIM token — nothing else.'));
  if (rights.can('provisioning:read', tenant.id)) {
    const create = form({
      label: 'Create a setup link', submit: 'Create setup link',
      fields: [
        field({ label: 'Name', name: 'name', required: true, hint: 'Who it is for, e.g. “Acme IT (Entra)”.' }),
        field({ label: 'Valid for (hours)', name: 'hours', type: 'number', value: '72', required: true, attributes: { min: 1, max: 720 } }),
        field({ label: 'Tokens it may create', name: 'tokens', type: 'number', value: '5', required: true, attributes: { min: 1, max: 20 } }),
      ],
      action: async (values, node) => {
        const link = await api.post(base, { name: values.name, expires_in_hours: Number(values.hours), tokens_allowed: Number(values.tokens) });
        node.reset();
        revealed.replaceChildren(secretOnce({
          title: `Setup link “${link.name}” created`, secret: link.url, what: 'setup link',
          details: [['Expires', when(link.expires_at)], ['Send it', 'to the person who runs the identity provider, by a channel you trust: whoever holds it can create this tenant\'s SCIM tokens until it expires or you revoke it.']],
        }));
        await list.load();
      },
    });
    main.append(h('section', { 'aria-labelledby': 'create-link' }, h('h2', { id: 'create-link' }, 'Create a setup link'), create, revealed));
  }
  main.append(h('section', { 'aria-labelledby': 'link-list' }, h('h2', { id: 'link-list' }, 'Links'), problems, list.node));
  await list.load();
}
