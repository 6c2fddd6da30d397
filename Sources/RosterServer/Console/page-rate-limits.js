// Rate-limit overrides: the tenant's (SCIM tokens and bound admin keys), one SCIM token's, one admin key's.
// /api/v1/tenants/{tenant}/rate-limit, /api/v1/tenants/{tenant}/scim/tokens/{id}/rate-limit,
// /api/v1/admin-keys/{id}/rate-limit: GET, PUT, DELETE.

import { h, field, form, pageHeading, announce, confirmAction, errorBox } from './ui.js';
import { segment } from './api.js';

const SOURCES = { scim_token: 'its own override', admin_key: 'its own override', tenant: 'the tenant\'s override', default: 'the server\'s default' };
const describeLimit = (status) => `${status.requests ? `${status.requests} requests per ${status.window_seconds} s` : 'not limited'}, from ${SOURCES[status.source] ?? status.source}`;

/** A section showing one credential's limit, with a form to set it and a button to remove the override. */
function override({ api, title, path, parts }) {
  const section = h('section', { class: 'limit', 'aria-label': title });
  async function show(message) {
    const status = await api.get(path);
    const now = h('dl', { class: 'facts' }, (parts ?? [null]).flatMap((part) => [
      h('dt', {}, part ? { scim: 'SCIM tokens', admin: 'Admin keys' }[part] : 'Now'), h('dd', {}, describeLimit(part ? status[part] : status))]));
    const fields = (parts ?? [null]).flatMap((part) => {
      const current = part ? status[part] : status;
      const prefix = part ? `${part}_` : '';
      const label = part ? { scim: 'SCIM tokens: ', admin: 'Admin keys: ' }[part] : '';
      return [
        field({ label: `${label}requests`, name: `${prefix}requests`, type: 'number', value: current.requests ?? '', required: !part, attributes: { min: 1 } }),
        field({ label: `${label}window (seconds)`, name: `${prefix}window`, type: 'number', value: current.window_seconds ?? '', required: !part, attributes: { min: 1 } }),
      ];
    });
    const set = form({
      label: `Set the rate limit: ${title}`, fields, submit: 'Set limit',
      action: async (values) => {
        let body;
        if (parts) {
          body = {};
          for (const part of parts) {
            if (values[`${part}_requests`]) body[part] = { requests: Number(values[`${part}_requests`]), window_seconds: Number(values[`${part}_window`]) };
          }
        } else {
          body = { requests: Number(values.requests), window_seconds: Number(values.window) };
        }
        await api.put(path, body);
        await show('Rate limit set.');
      },
    });
    const remove = h('button', {
      type: 'button', class: 'danger',
      onclick: async () => {
        if (!(await confirmAction({ title: `Remove the override: ${title}?`, message: 'It falls back to its tenant\'s limit, else the server\'s default.', confirm: 'Remove override' }))) return;
        try { await api.delete(path); await show('Override removed.'); } catch (error) { section.append(errorBox(error)); }
      },
    }, 'Remove override');
    section.replaceChildren(h('h3', {}, title), now, set, h('div', { class: 'actions' }, remove));
    if (message) announce(message);
  }
  show().catch((error) => section.replaceChildren(h('h3', {}, title), errorBox(error)));
  return section;
}

export default async function rateLimits({ api, rights, tenant, main }) {
  const tenantPath = `/api/v1/tenants/${segment(tenant.name)}`;
  main.append(...pageHeading(`Rate limits · ${tenant.name}`, 'Requests per window for each credential: its own override, else its tenant\'s, else the server\'s default. Every change is audited.'),
    h('section', { 'aria-labelledby': 'tenant-limit' }, h('h2', { id: 'tenant-limit' }, 'The tenant'),
      h('p', { class: 'hint' }, 'Leave a part empty to give it the server\'s default.'),
      override({ api, title: `Tenant ${tenant.name}`, path: `${tenantPath}/rate-limit`, parts: ['scim', 'admin'] })));

  const tokens = (await api.get(`${tenantPath}/scim/tokens`, { limit: 500 })).data.filter((t) => !t.revoked);
  const tokenSection = h('section', { 'aria-labelledby': 'token-limit' }, h('h2', { id: 'token-limit' }, 'A SCIM token'));
  const tokenSlot = h('div');
  if (tokens.length) {
    const picker = field({ label: 'Token', name: 'token', options: tokens.map((t) => [t.id, `${t.name} (${t.prefix}…)`]), value: tokens[0].id });
    const pick = () => tokenSlot.replaceChildren(override({ api, title: `Token ${picker.input.selectedOptions[0].textContent}`, path: `${tenantPath}/scim/tokens/${segment(picker.input.value)}/rate-limit` }));
    picker.input.addEventListener('change', pick);
    tokenSection.append(picker, tokenSlot);
    pick();
  } else {
    tokenSection.append(h('p', { class: 'empty' }, 'The tenant has no active SCIM token.'));
  }
  main.append(tokenSection);

  if (rights.can('admin-keys', tenant.id)) {
    const keys = (await api.get('/api/v1/admin-keys', { limit: 500 })).data.filter((k) => !k.revoked && (k.tenant_id === tenant.id || (!k.tenant_id && rights.isGlobal('config'))));
    const keySection = h('section', { 'aria-labelledby': 'key-limit' }, h('h2', { id: 'key-limit' }, 'An admin key'));
    const keySlot = h('div');
    if (keys.length) {
      const picker = field({ label: 'Admin key', name: 'key', options: keys.map((k) => [k.id, `${k.name} (${k.prefix}…)${k.tenant_id ? '' : ', global'}`]), value: keys[0].id });
      const pick = () => keySlot.replaceChildren(override({ api, title: `Admin key ${picker.input.selectedOptions[0].textContent}`, path: `/api/v1/admin-keys/${segment(picker.input.value)}/rate-limit` }));
      picker.input.addEventListener('change', pick);
      keySection.append(picker, keySlot);
      pick();
    } else {
      keySection.append(h('p', { class: 'empty' }, 'No admin key of this tenant.'));
    }
    main.append(keySection);
  }
}
