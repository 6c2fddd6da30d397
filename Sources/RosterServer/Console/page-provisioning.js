// The tenant's provisioning log: GET /api/v1/tenants/{tenant}/provisioning-log (scope provisioning:read).

import { pageHeading } from './ui.js';
import { segment } from './api.js';
import { provisioningLog } from './provisioning.js';

export default async function provisioning({ api, tenant, main, onLeave }) {
  const log = provisioningLog({
    caption: `Provisioning log of ${tenant.name}`,
    fetchPage: ({ cursor, outcome }) => api.get(`/api/v1/tenants/${segment(tenant.name)}/provisioning-log`, { cursor, outcome }),
    onLeave,
  });
  main.append(...pageHeading(`Provisioning log · ${tenant.name}`, 'Every SCIM request made with one of this tenant\'s tokens, newest first, kept for a week: what arrived, and why a user failed to provision.'), log.node);
  await log.start();
}
