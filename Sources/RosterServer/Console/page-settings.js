// Runtime settings, versioned by an ETag: GET /api/v1/config, PUT with If-Match. A stale edit (412) says that
// someone changed the settings since they were loaded, and offers to load them again.

import { h, field, form, pageHeading, code, announce } from './ui.js';
import { ApiError } from './api.js';

export default async function settings({ api, main }) {
  const body = h('div');
  main.append(...pageHeading('Runtime settings', 'Rate-limit defaults, SCIM page sizes and the webhook retry schedule, changed without a restart. A section nobody set here comes from the server\'s configuration.'), body);

  async function load(message) {
    const answer = await api.request('GET', '/api/v1/config');
    const current = answer.data;
    const etag = answer.headers.get('ETag');
    const scim = field({ label: 'SCIM token rate limit', name: 'scim', value: current.rate_limits.scim, required: true, hint: 'off, or requests/seconds, e.g. 3000/60s.' });
    const admin = field({ label: 'Admin key rate limit', name: 'admin', value: current.rate_limits.admin, required: true, hint: 'off, or requests/seconds, e.g. 1200/60s.' });
    const pageDefault = field({ label: 'SCIM page size without count', name: 'page_default', type: 'number', value: current.list_page_size.default, required: true, attributes: { min: 1, max: 10000 } });
    const pageMax = field({ label: 'Largest SCIM page a count gets', name: 'page_max', type: 'number', value: current.list_page_size.max, required: true, attributes: { min: 1, max: 10000 } });
    const retries = field({ label: 'Webhook retry schedule (seconds)', name: 'retries', value: current.webhook_retry_schedule.join(', '), required: true, hint: 'Wait before the first attempt, then after each failure, comma-separated.' });
    const stale = h('div');
    const edit = form({
      label: 'Edit the runtime settings', fields: [scim, admin, pageDefault, pageMax, retries], submit: 'Save settings', extra: [stale],
      action: async (values) => {
        stale.replaceChildren();
        const sections = {
          rate_limits: { scim: values.scim, admin: values.admin },
          list_page_size: { default: Number(values.page_default), max: Number(values.page_max) },
          webhook_retry_schedule: values.retries.split(/[\s,]+/).filter(Boolean).map(Number),
        };
        // Send a section when it was set here before or is changed now; the others keep following the configuration.
        const update = {};
        for (const [name, value] of Object.entries(sections)) {
          if (current.overridden.includes(name) || JSON.stringify(value) !== JSON.stringify(current[name])) update[name] = value;
        }
        try {
          await api.request('PUT', '/api/v1/config', { body: update, headers: { 'If-Match': etag } });
        } catch (error) {
          if (error instanceof ApiError && error.status === 412) {
            stale.replaceChildren(h('div', { class: 'error-box', role: 'alert' },
              h('p', {}, h('strong', {}, 'Someone changed the settings since you loaded them. '), 'Nothing was saved. Load their version, then make your change again.'),
              h('p', { class: 'muted' }, error.message),
              h('button', { type: 'button', class: 'primary', onclick: () => load('The settings were loaded again.') }, 'Load the current settings')));
            stale.querySelector('button').focus();
            return;
          }
          throw error;
        }
        await load('Settings saved.');
      },
    });
    body.replaceChildren(
      h('dl', { class: 'facts' },
        h('dt', {}, 'Version'), h('dd', {}, code(etag ?? String(current.version))),
        h('dt', {}, 'Set here'), h('dd', {}, current.overridden.length ? current.overridden.join(', ') : 'nothing: all from the server\'s configuration')),
      edit);
    if (message) announce(message);
  }
  await load();
}
