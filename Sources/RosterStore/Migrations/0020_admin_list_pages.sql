-- Keyset pages for the admin API's lists (ListCursor.swift): each list read from an index in its own order,
-- with the id as the tie-breaker, so a page deep into a list costs what the first one does.

-- Oldest first: tenants (those a credential holds `tenants` on), each tenant's SCIM tokens and webhook
-- subscriptions, admin keys (all of them for a global grant, a tenant's for a tenant grant), admin users.
CREATE INDEX tenants_created ON tenants (created, id);
CREATE INDEX scim_tokens_created ON scim_tokens (tenant_id, created, id);
CREATE INDEX webhook_subscriptions_created ON webhook_subscriptions (tenant_id, created, id);
CREATE INDEX admin_keys_created ON admin_keys (created, id);
CREATE INDEX admin_keys_tenant_created ON admin_keys (tenant_id, created, id);
CREATE INDEX admin_users_created ON admin_users (created, id);

-- A role's grants, oldest first; it serves what admin_role_grants_role (role_id) did, the cascade of a deleted role too.
CREATE INDEX admin_role_grants_created ON admin_role_grants (role_id, created, id);
DROP INDEX admin_role_grants_role;

-- Built-in roles first, then custom ones by name.
CREATE INDEX admin_roles_listed ON admin_roles ((NOT builtin), name, id);

-- A subscription's delivery attempts, the latest first (the index read backwards); it serves what
-- webhook_deliveries_recent (tenant_id, subscription_id, attempted_at DESC) did.
CREATE INDEX webhook_deliveries_listed ON webhook_deliveries (tenant_id, subscription_id, attempted_at, attempt, id);
DROP INDEX webhook_deliveries_recent;
