-- The setup portal: links an admin hands to a customer's IT admin, and the log of what their identity
-- provider sent.

-- Reading a tenant's provisioning log is its own scope; the built-in admin and auditor roles hold it.
UPDATE admin_roles SET scopes = array_append(scopes, 'provisioning:read')
WHERE builtin AND name IN ('admin', 'auditor') AND NOT 'provisioning:read' = ANY (scopes);

-- A setup link: a secret (`rset_…`, stored as its SHA-256) that lets someone with no Roster account read
-- one tenant's setup guide and provisioning log and create that tenant's SCIM tokens (at most
-- `tokens_allowed`), until it expires or is revoked.
CREATE TABLE setup_links (
    tenant_id           uuid NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    name                text NOT NULL,
    prefix              text NOT NULL,
    secret_hash         bytea NOT NULL,
    created             timestamptz NOT NULL DEFAULT now(),
    created_by_type     text NOT NULL CHECK (created_by_type IN ('admin_key', 'admin_user', 'oidc', 'system')),
    created_by_id       uuid,
    created_by_subject  text,
    expires             timestamptz NOT NULL,
    revoked             timestamptz,
    last_used           timestamptz,
    tokens_created      integer NOT NULL DEFAULT 0,
    tokens_allowed      integer NOT NULL CHECK (tokens_allowed BETWEEN 1 AND 20),
    PRIMARY KEY (tenant_id, id),
    CHECK (tokens_created BETWEEN 0 AND tokens_allowed)
);
CREATE UNIQUE INDEX setup_links_hash_key ON setup_links (secret_hash);

-- The link a SCIM token was created through, if any.
ALTER TABLE scim_tokens ADD COLUMN setup_link_id uuid;

-- A setup link acts in the audit log as itself.
ALTER TABLE admin_actions DROP CONSTRAINT admin_actions_actor_type_check;
ALTER TABLE admin_actions ADD CONSTRAINT admin_actions_actor_type_check
    CHECK (actor_type IN ('admin_key', 'admin_user', 'oidc', 'setup_link', 'system'));

-- What a tenant's SCIM clients sent and what they were answered: never a body, a token or a password.
-- Kept for a configured number of days and at most a configured number of rows per tenant.
CREATE TABLE provisioning_log (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    occurred_at  timestamptz NOT NULL,
    token_id     uuid NOT NULL,
    method       text NOT NULL,
    path         text NOT NULL,
    status       smallint NOT NULL,
    scim_type    text,
    detail       text,
    user_agent   text,
    latency_ms   integer NOT NULL,
    request_id   text,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX provisioning_log_occurred ON provisioning_log (occurred_at);
