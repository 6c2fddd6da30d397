// A tenant's SCIM tokens: list (with last use), create (the secret shown once), revoke (after confirming).
// GET, POST /api/v1/tenants/{tenant}/scim/tokens; DELETE /api/v1/tenants/{tenant}/scim/tokens/{id}.

import { h, field, form, pageHeading, when, code, badge, announce, confirmAction, secretOnce, errorBox } from './ui.js';
import { CursorList } from './list.js';
import { segment } from './api.js';

export function tokenStatus(token) {
  if (token.revoked) return badge('revoked', 'bad');
  if (token.expires_at && new Date(token.expires_at) < new Date()) return badge('expired', 'bad');
  return badge('active', 'good');
}

export default async function tokens({ api, tenant, main }) {
  const base = `/api/v1/tenants/${segment(tenant.name)}/scim/tokens`;
  const revealed = h('div', { class: 'revealed' });
  const problems = h('div');
  const revoke = async (token) => {
    const sure = await confirmAction({
      title: `Revoke the token “${token.name}”?`,
      message: `The identity provider using ${token.prefix}… gets 401 on its next request. This cannot be undone.`,
      confirm: 'Revoke token',
    });
    if (!sure) return;
    try {
      await api.delete(`${base}/${segment(token.id)}`);
      announce(`Token ${token.name} revoked.`);
      await list.load();
    } catch (error) {
      problems.replaceChildren(errorBox(error));
    }
  };
  const list = new CursorList({
    caption: `SCIM tokens of ${tenant.name}`,
    columns: [
      { label: 'Name', value: (t) => t.name },
      { label: 'Prefix', value: (t) => code(`${t.prefix}…`) },
      { label: 'Status', value: tokenStatus },
      { label: 'Created', value: (t) => when(t.created) },
      { label: 'Last used', value: (t) => when(t.last_used) },
      { label: 'Expires', value: (t) => when(t.expires_at) },
      { label: 'Actions', value: (t) => (t.revoked ? '' : h('button', { type: 'button', class: 'danger', onclick: () => revoke(t) }, 'Revoke', h('span', { class: 'visually-hidden' }, ` ${t.name}`))) },
    ],
    fetchPage: (cursor) => api.get(base, { cursor }),
    empty: 'No SCIM tokens yet.',
  });
  const name = field({ label: 'Name', name: 'name', required: true, hint: 'Who will use it, e.g. “Okta production”.' });
  const expires = field({ label: 'Expires', name: 'expires', type: 'datetime-local', hint: 'Optional; without it the token lasts until revoked.' });
  const create = form({
    label: 'Create a SCIM token', fields: [name, expires], submit: 'Create token',
    action: async (values, node) => {
      const body = { name: values.name };
      if (values.expires) body.expires_at = new Date(values.expires).toISOString();
      const created = await api.post(base, body);
      node.reset();
      revealed.replaceChildren(secretOnce({
        title: `Token “${created.name}” created`, secret: created.token, what: 'token',
        details: [['SCIM base URL', code(created.scim_base_url)], ['Tenant', tenant.name]],
      }));
      await list.load();
    },
  });
  main.append(...pageHeading(`SCIM tokens · ${tenant.name}`, 'Bearer tokens identity providers use on /scim/v2. A token decides the tenant.'),
    h('section', { 'aria-labelledby': 'create-token' }, h('h2', { id: 'create-token' }, 'Create a token'), create, revealed),
    h('section', { 'aria-labelledby': 'token-list' }, h('h2', { id: 'token-list' }, 'Tokens'), problems, list.node));
  await list.load();
}
