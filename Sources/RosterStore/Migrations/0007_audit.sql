-- The audit log: the change feed's SCIM changes (events) plus the admin actions below, read as one
-- log by time at /api/v1/audit.
--
-- One row per admin action: a tenant created, a SCIM token or admin key created or revoked, a
-- webhook subscription created, updated, deleted, its secret rotated, replayed or tested. The row
-- is written by the action's own statement (a data-modifying CTE over the row it acted on), so an
-- entry exists if and only if its action took effect: a refused or failed action writes none.
-- `details` never holds a secret (no token, key or whsec_ value; a webhook URL only as its origin).
CREATE TABLE admin_actions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid REFERENCES tenants (id),   -- NULL: a global action (a tenant created, a global admin key)
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    actor_type   text NOT NULL CHECK (actor_type IN ('admin_key', 'system')),
    actor_id     uuid,                            -- the admin key; NULL for the bootstrap key and for system (the CLI)
    request_id   text,                            -- the X-Request-Id of the admin API request
    action       text NOT NULL,                   -- e.g. scim_token.created
    target_type  text NOT NULL,                   -- tenant, scim_token, admin_key, webhook
    target_id    uuid NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}'
);
-- Read by time then id: across tenants (a global key), or one tenant's.
CREATE INDEX admin_actions_occurred ON admin_actions (occurred_at, id);
CREATE INDEX admin_actions_tenant_occurred ON admin_actions (tenant_id, occurred_at, id);

-- The audit log reads a tenant's events by time (the feed reads them by seq).
CREATE INDEX events_tenant_occurred ON events (tenant_id, occurred_at, seq);
