// Health: GET /api/health (no credential) and, with the webhooks scope, GET /api/v1/health/webhooks.

import { h, pageHeading, badge, code, errorBox, table } from './ui.js';

const kind = (status) => (['ok', 'current', 'running', 'active'].includes(status) ? 'good' : ['degraded', 'slow', 'lagging', 'paused', 'pending', 'off'].includes(status) ? 'warn' : 'bad');

export default async function health({ api, rights, main, tenants }) {
  main.append(...pageHeading('Health', 'Roster and its components, as load balancers see them.'));
  const overall = h('section', { 'aria-labelledby': 'health-overall' }, h('h2', { id: 'health-overall' }, 'Roster'));
  main.append(overall);
  try {
    // /api/health answers 503 with the same body when something is down: read it either way.
    const response = await fetch('/api/health', { cache: 'no-store', credentials: 'omit' });
    const report = await response.json();
    overall.append(h('p', {}, 'Overall: ', badge(report.status, kind(report.status))),
      table({ caption: 'Components', columns: [
        { label: 'Component', value: ([name]) => name },
        { label: 'Status', value: ([, c]) => badge(c.status, kind(c.status)) },
        { label: 'Details', value: ([, c]) => Object.entries(c).filter(([k]) => k !== 'status').map(([k, v]) => `${k}: ${v}`).join(', ') },
      ], rows: Object.entries(report.components ?? {}) }));
  } catch (error) {
    overall.append(errorBox(error));
  }
  if (rights.canAnywhere('webhooks')) {
    const section = h('section', { 'aria-labelledby': 'health-webhooks' }, h('h2', { id: 'health-webhooks' }, 'Webhook delivery'));
    main.append(section);
    try {
      const report = await api.get('/api/v1/health/webhooks');
      const tenantName = (id) => tenants().find((t) => t.id === id)?.name ?? id;
      section.append(h('p', {}, 'Overall: ', badge(report.status, kind(report.status)), ' · dispatcher: ', String(report.dispatcher)),
        table({ caption: 'Subscriptions', empty: 'No subscriptions.', columns: [
          { label: 'Subscription', value: (s) => code(s.id) },
          { label: 'Tenant', value: (s) => tenantName(s.tenant_id) },
          { label: 'State', value: (s) => badge(s.state, kind(s.state)) },
          { label: 'Lag', value: (s) => `${s.lag_seconds} s` },
        ], rows: report.subscriptions }));
    } catch (error) {
      section.append(errorBox(error));
    }
  }
}
