// Tenants: GET and POST /api/v1/tenants. Each tenant leads to its own pages.

import { h, field, form, pageHeading, when, code, badge, announce } from './ui.js';
import { CursorList } from './list.js';

export default async function tenants({ api, rights, main, reloadTenants }) {
  const tenantLink = (tenant) => {
    const page = ['tokens', 'webhooks', 'feed', 'provisioning'].find((p) => rights.can({ tokens: 'scim-tokens', webhooks: 'webhooks', feed: 'feed:read', provisioning: 'provisioning:read' }[p], tenant.id));
    return page ? h('a', { href: `#/t/${encodeURIComponent(tenant.name)}/${page}` }, tenant.name) : tenant.name;
  };
  const list = new CursorList({
    caption: 'Tenants',
    columns: [
      { label: 'Name', value: tenantLink },
      { label: 'Id', value: (t) => code(t.id) },
      { label: 'Created', value: (t) => when(t.created) },
      { label: 'Operator directory', value: (t) => (t.operator_directory ? badge('yes', 'good') : 'no') },
    ],
    fetchPage: (cursor) => api.get('/api/v1/tenants', { cursor }),
    empty: 'No tenants.',
  });
  main.append(...pageHeading('Tenants', 'Every SCIM resource, token and webhook belongs to one tenant; default always exists.'));
  if (rights.isGlobal('tenants')) {
    const name = field({ label: 'Name', name: 'name', required: true, hint: 'Lower-case letters, digits and hyphens, as the API accepts.' });
    const create = form({
      label: 'Create a tenant', fields: [name], submit: 'Create tenant',
      action: async (values, node) => {
        const tenant = await api.post('/api/v1/tenants', { name: values.name });
        node.reset();
        announce(`Tenant ${tenant.name} created.`);
        await reloadTenants();
        await list.reload();
      },
    });
    main.append(h('section', { 'aria-labelledby': 'create-tenant' }, h('h2', { id: 'create-tenant' }, 'Create a tenant'), create));
  }
  main.append(h('section', { 'aria-labelledby': 'tenant-list' }, h('h2', { id: 'tenant-list' }, 'All tenants'), list.node));
  await list.load();
}
