// "Connect an identity provider" for one tenant: the guide with Roster's values, and a token made on the spot with
// POST /api/v1/tenants/{tenant}/scim/tokens. The same guide a setup link opens for an outsider (/setup).

import { h, pageHeading, secretOnce, fill } from './ui.js';
import { segment } from './api.js';
import { loadGuides, scimBaseURL, connectFlow } from './guide.js';

export default async function connect({ api, rights, tenant, main }) {
  const [guides, base] = await Promise.all([loadGuides(), scimBaseURL()]);
  const links = `#/t/${encodeURIComponent(tenant.name)}/setup-links`;
  fill(main, pageHeading(`Connect an identity provider · ${tenant.name}`,
    'The exact steps for your identity provider, with this tenant\'s values filled in.'),
    rights.can('provisioning:read', tenant.id)
      ? h('p', { class: 'hint' }, 'Someone else runs the identity provider? ', h('a', { href: links }, 'Send them a setup link'), ' instead: it opens this guide for them, and lets them create this tenant\'s token and nothing else.')
      : null,
    connectFlow({
      guides, values: { scim_base_url: base, tenant_name: tenant.name }, secretOnce,
      createToken: (name) => api.post(`/api/v1/tenants/${segment(tenant.name)}/scim/tokens`, { name }),
    }));
}
