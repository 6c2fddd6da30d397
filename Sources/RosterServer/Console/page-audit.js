// The audit log, filtered by actor, action and since, read by cursor.
// GET /api/v1/audit (every tenant's entries and the global ones) or /api/v1/tenants/{tenant}/audit.

import { h, field, form, pageHeading, when, code, muted, uniqueId } from './ui.js';
import { CursorList } from './list.js';
import { segment } from './api.js';

const ACTIONS = ['user.created', 'user.updated', 'user.deactivated', 'user.reactivated', 'user.deleted', 'group.created',
  'group.updated', 'group.deleted', 'group.members.added', 'group.members.removed', 'tenant.created', 'tenant.updated',
  'scim_token.created', 'scim_token.revoked', 'admin_key.created', 'admin_key.revoked', 'webhook.created', 'webhook.updated',
  'webhook.deleted', 'webhook.secret_rotated', 'webhook.replayed', 'webhook.test_sent', 'admin_user.created',
  'admin_user.updated', 'admin_user.deleted', 'admin_role.created', 'admin_role.updated', 'admin_role.deleted',
  'admin_role.granted', 'admin_role.grant_revoked', 'auth.login', 'auth.login_failed', 'auth.session_revoked',
  'auth.refresh_reused', 'tenant.rate_limit_set', 'tenant.rate_limit_removed', 'scim_token.rate_limit_set',
  'scim_token.rate_limit_removed', 'admin_key.rate_limit_set', 'admin_key.rate_limit_removed', 'config.updated',
  'setup_link.created', 'setup_link.revoked'];

export const actorText = (actor) => [actor.type, actor.id, actor.subject].filter(Boolean).join(' ');

export default async function audit({ api, rights, main, tenants }) {
  const tenantName = (id) => (id ? tenants().find((t) => t.id === id)?.name ?? id : null);
  const scopes = rights.isGlobal('audit:read') ? [['', 'Every tenant, and global actions']] : [];
  scopes.push(...tenants().filter((t) => rights.can('audit:read', t.id)).map((t) => [t.name, t.name]));
  const filters = { tenant: scopes[0]?.[0] ?? '', actor: '', action: '', since: '' };

  const list = new CursorList({
    caption: 'Audit log entries',
    columns: [
      { label: 'When', value: (e) => when(e.occurred_at) },
      { label: 'Action', value: (e) => code(e.action) },
      { label: 'Actor', value: (e) => code(actorText(e.actor)) },
      { label: 'Target', value: (e) => [e.target.type, e.target.id ? ' ' : '', e.target.id ? code(e.target.id) : ''] },
      { label: 'Tenant', value: (e) => tenantName(e.tenant_id) ?? muted('global') },
      { label: 'Details', value: (e) => (Object.keys(e.details ?? {}).length ? h('code', { class: 'details' }, JSON.stringify(e.details)) : '') },
      { label: 'Request', value: (e) => (e.request_id ? code(e.request_id) : '') },
    ],
    fetchPage: (cursor) => api.get(filters.tenant ? `/api/v1/tenants/${segment(filters.tenant)}/audit` : '/api/v1/audit', {
      cursor, actor: filters.actor, action: filters.action, since: filters.since ? new Date(filters.since).toISOString() : '',
    }),
    empty: 'No entries match.',
  });

  const listId = uniqueId('actions');
  const fields = [
    scopes.length > 1 ? field({ label: 'Tenant', name: 'tenant', options: scopes, value: filters.tenant }) : null,
    field({ label: 'Actor', name: 'actor', hint: 'An admin key\'s or SCIM token\'s id, bootstrap, or system.', attributes: { spellcheck: 'false' } }),
    field({ label: 'Action', name: 'action', hint: 'One or more, comma-separated, e.g. scim_token.created.', attributes: { list: listId, spellcheck: 'false' } }),
    field({ label: 'Since', name: 'since', type: 'datetime-local' }),
  ].filter(Boolean);
  const filter = form({
    label: 'Filter the audit log', fields, submit: 'Apply filters',
    extra: [h('datalist', { id: listId }, ACTIONS.map((a) => h('option', { value: a })))],
    action: async (values) => {
      Object.assign(filters, values);
      await list.reload();
      document.getElementById('audit-results').focus();
    },
  });
  filter.classList.add('filters');
  main.append(...pageHeading('Audit log', 'Every SCIM change and admin action, with who did it, oldest first. Never a secret.'),
    h('section', { 'aria-labelledby': 'audit-filters' }, h('h2', { id: 'audit-filters' }, 'Filters'), filter),
    h('section', { 'aria-labelledby': 'audit-results' }, h('h2', { id: 'audit-results', tabindex: '-1' }, 'Entries'), list.node));
  await list.load();
}
