-- Admin identity: people who administer Roster, the roles (sets of scopes) they hold, role grants
-- to them or to SCIM groups of a tenant, and their sessions (rotating refresh tokens).

-- A person with a console login. The password is bcrypt (never the password); NULL means the user
-- signs in only through a trusted OIDC issuer. Emails are unique case-insensitively.
CREATE TABLE admin_users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text NOT NULL,
    display_name   text,
    password_hash  text,
    created        timestamptz NOT NULL DEFAULT now(),
    last_login     timestamptz,
    disabled       timestamptz
);
CREATE UNIQUE INDEX admin_users_email_key ON admin_users (lower(email));

-- A named set of scopes. The four built-in roles cannot be changed or deleted.
CREATE TABLE admin_roles (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    description  text,
    scopes       text[] NOT NULL,
    builtin      boolean NOT NULL DEFAULT false,
    created      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX admin_roles_name_key ON admin_roles (name);

INSERT INTO admin_roles (name, description, scopes, builtin) VALUES
    ('owner', 'Everything, including admin users, roles and runtime settings.', '{*}', true),
    ('admin', 'Tenants, SCIM tokens, admin keys, webhooks, the directory, the feed, the audit log and metrics.',
        '{tenants,scim-tokens,admin-keys,webhooks,directory:read,feed:read,audit:read,metrics}', true),
    ('auditor', 'Reads the audit log, the change feed and metrics.', '{audit:read,feed:read,metrics}', true),
    ('viewer', 'Reads the directory and the change feed.', '{directory:read,feed:read}', true);

-- A role held by an admin user or by the members of a SCIM group (directly or through nesting),
-- on every tenant (tenant_id NULL) or on one. A group grant names the group's own tenant.
CREATE TABLE admin_role_grants (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role_id          uuid NOT NULL REFERENCES admin_roles (id) ON DELETE CASCADE,
    tenant_id        uuid REFERENCES tenants (id) ON DELETE CASCADE,
    user_id          uuid REFERENCES admin_users (id) ON DELETE CASCADE,
    group_tenant_id  uuid,
    group_id         uuid,
    created          timestamptz NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (group_id IS NULL)),
    CHECK ((group_id IS NULL) = (group_tenant_id IS NULL)),
    FOREIGN KEY (group_tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX admin_role_grants_user_key
    ON admin_role_grants (user_id, role_id, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000')) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX admin_role_grants_group_key
    ON admin_role_grants (group_tenant_id, group_id, role_id, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000')) WHERE group_id IS NOT NULL;
CREATE INDEX admin_role_grants_role ON admin_role_grants (role_id);

-- An admin key may belong to a user: its rights are then never more than the user's.
ALTER TABLE admin_keys ADD COLUMN owner_id uuid REFERENCES admin_users (id) ON DELETE CASCADE;

-- A signed-in session: a user's (email + password) or a key's. Its refresh tokens form one family:
-- each use replaces the token, and presenting a used one again revokes the whole session.
CREATE TABLE admin_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid REFERENCES admin_users (id) ON DELETE CASCADE,
    key_id          uuid REFERENCES admin_keys (id) ON DELETE CASCADE,
    created         timestamptz NOT NULL DEFAULT now(),
    source_address  text,
    revoked         timestamptz,
    revoked_reason  text,
    CHECK ((user_id IS NULL) <> (key_id IS NULL))
);

CREATE TABLE admin_refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES admin_sessions (id) ON DELETE CASCADE,
    issued      timestamptz NOT NULL DEFAULT now(),
    expires     timestamptz NOT NULL,
    used        timestamptz
);
CREATE INDEX admin_refresh_tokens_session ON admin_refresh_tokens (session_id);

-- Audit entries now name admin users and OIDC subjects too, and where a request came from.
-- A failed login for an unknown email has no target row.
ALTER TABLE admin_actions DROP CONSTRAINT admin_actions_actor_type_check;
ALTER TABLE admin_actions ADD CONSTRAINT admin_actions_actor_type_check
    CHECK (actor_type IN ('admin_key', 'admin_user', 'oidc', 'system'));
ALTER TABLE admin_actions ADD COLUMN actor_subject text;   -- an OIDC token's issuer and subject
ALTER TABLE admin_actions ADD COLUMN source_address text;
ALTER TABLE admin_actions ALTER COLUMN target_id DROP NOT NULL;
-- Login throttling counts recent failures by account and by address.
CREATE INDEX admin_actions_login_failures ON admin_actions (occurred_at) WHERE action = 'auth.login_failed';
