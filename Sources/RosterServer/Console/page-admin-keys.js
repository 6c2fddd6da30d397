// Admin keys: list (scopes, expiry, owner, last use), create (the key shown once), revoke (after confirming).
// GET, POST /api/v1/admin-keys; DELETE /api/v1/admin-keys/{id}. Only scopes the credential holds are offered:
// a key never grants a scope its maker lacks.

import { h, field, form, checkboxes, pageHeading, when, code, badge, muted, announce, confirmAction, secretOnce, errorBox } from './ui.js';
import { CursorList } from './list.js';
import { segment } from './api.js';
import { SCOPES } from './session.js';
import { tokenStatus } from './page-tokens.js';

export default async function adminKeys({ api, rights, main, tenants }) {
  const tenantName = (id) => (id ? tenants().find((t) => t.id === id)?.name ?? id : null);
  const revealed = h('div', { class: 'revealed' });
  const problems = h('div');
  const owner = (key) => {
    if (key.owner_id) return h('span', {}, 'admin user ', code(key.owner_id));
    if (key.owner_key_id) return h('span', {}, 'admin key ', code(key.owner_key_id));
    if (key.owner_subject) return h('span', {}, 'OIDC ', code(key.owner_subject));
    return muted('—');
  };
  const revoke = async (key) => {
    const sure = await confirmAction({
      title: `Revoke the admin key “${key.name}”?`,
      message: `Whatever uses ${key.prefix}… gets 401 on its next request. This cannot be undone.`,
      confirm: 'Revoke key',
    });
    if (!sure) return;
    try {
      await api.delete(`/api/v1/admin-keys/${segment(key.id)}`);
      announce(`Admin key ${key.name} revoked.`);
      await list.load();
    } catch (error) {
      problems.replaceChildren(errorBox(error));
    }
  };
  const list = new CursorList({
    caption: 'Admin keys',
    columns: [
      { label: 'Name', value: (k) => k.name },
      { label: 'Prefix', value: (k) => code(`${k.prefix}…`) },
      { label: 'Tenant', value: (k) => tenantName(k.tenant_id) ?? muted('every tenant') },
      { label: 'Scopes', value: (k) => h('ul', { class: 'inline' }, k.scopes.map((s) => h('li', {}, code(s)))) },
      { label: 'Status', value: tokenStatus },
      { label: 'Expires', value: (k) => when(k.expires_at) },
      { label: 'Owner', value: owner },
      { label: 'Last used', value: (k) => when(k.last_used) },
      { label: 'Actions', value: (k) => (k.revoked ? '' : h('button', { type: 'button', class: 'danger', onclick: () => revoke(k) }, 'Revoke', h('span', { class: 'visually-hidden' }, ` ${k.name}`))) },
    ],
    fetchPage: (cursor) => api.get('/api/v1/admin-keys', { cursor }),
    empty: 'No admin keys.',
  });

  main.append(...pageHeading('Admin keys', 'Keys for the admin API, global or bound to one tenant, each with scopes.'));
  const holdable = (tenantId) => SCOPES.filter(([scope]) => (tenantId ? rights.can(scope, tenantId) : rights.isGlobal(scope)));
  const choices = tenants().filter((t) => rights.can('admin-keys', t.id)).map((t) => [t.id, t.name]);
  const bindings = rights.isGlobal('admin-keys') ? [['', 'Every tenant (a global key)'], ...choices] : choices;
  if (bindings.length) {
    const name = field({ label: 'Name', name: 'name', required: true, hint: 'What uses it, e.g. “deploy pipeline”.' });
    const tenant = field({ label: 'Tenant', name: 'tenant', options: bindings, value: bindings[0][0] });
    const expires = field({ label: 'Expires', name: 'expires', type: 'datetime-local', hint: 'Optional.' });
    let scopes = checkboxes({ legend: 'Scopes', name: 'scopes', choices: holdable(bindings[0][0] || null), required: true });
    const fields = [name, tenant, scopes, expires];
    tenant.input.addEventListener('change', () => {
      const fresh = checkboxes({ legend: 'Scopes', name: 'scopes', choices: holdable(tenant.input.value || null), required: true });
      scopes.replaceWith(fresh);
      fields[2] = scopes = fresh;
    });
    const create = form({
      label: 'Create an admin key', fields, submit: 'Create key',
      action: async (values, node) => {
        const body = { name: values.name, scopes: values.scopes };
        if (values.tenant) body.tenant = values.tenant;
        if (values.expires) body.expires_at = new Date(values.expires).toISOString();
        const created = await api.post('/api/v1/admin-keys', body);
        node.reset();
        revealed.replaceChildren(secretOnce({
          title: `Admin key “${created.name}” created`, secret: created.key, what: 'key',
          details: [['Scopes', created.scopes.join(', ')], ['Tenant', tenantName(created.tenant_id) ?? 'every tenant']],
        }));
        await list.load();
      },
    });
    main.append(h('section', { 'aria-labelledby': 'create-key' }, h('h2', { id: 'create-key' }, 'Create a key'), create, revealed));
  }
  main.append(h('section', { 'aria-labelledby': 'key-list' }, h('h2', { id: 'key-list' }, 'Keys'), problems, list.node));
  await list.load();
}
