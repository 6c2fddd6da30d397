-- Roster's first schema: tenants, SCIM resources, memberships, credentials.
-- Every tenant-owned table leads its primary key and unique indexes with tenant_id.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tenants_name_key ON tenants (name);

INSERT INTO tenants (name) VALUES ('default');

CREATE TABLE users (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    user_name      text NOT NULL,
    external_id    text,
    display_name   text,
    active         boolean,
    created        timestamptz NOT NULL,
    last_modified  timestamptz NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    body           jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- RFC 7643 §4.1: userName is unique and case-insensitive.
CREATE UNIQUE INDEX users_user_name_key ON users (tenant_id, lower(user_name));
CREATE INDEX users_external_id ON users (tenant_id, external_id);
CREATE INDEX users_display_name ON users (tenant_id, lower(display_name));

CREATE TABLE groups (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    id             uuid NOT NULL,
    display_name   text NOT NULL,
    external_id    text,
    created        timestamptz NOT NULL,
    last_modified  timestamptz NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    body           jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX groups_display_name ON groups (tenant_id, lower(display_name));
CREATE INDEX groups_external_id ON groups (tenant_id, external_id);

-- Membership lives here, never in the group's body: a change costs the size of the change.
CREATE TABLE group_members (
    tenant_id    uuid NOT NULL,
    group_id     uuid NOT NULL,
    member_id    uuid NOT NULL,
    member_type  text NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

CREATE TABLE scim_tokens (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    prefix      text NOT NULL,
    token_hash  bytea NOT NULL,
    created     timestamptz NOT NULL DEFAULT now(),
    last_used   timestamptz,
    expires     timestamptz,
    revoked     timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- The token alone names its tenant, so lookups go by hash across tenants.
CREATE UNIQUE INDEX scim_tokens_hash_key ON scim_tokens (token_hash);

CREATE TABLE admin_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid REFERENCES tenants (id),   -- NULL: a global (operator) key
    name        text NOT NULL,
    prefix      text NOT NULL,
    key_hash    bytea NOT NULL,
    scopes      text[] NOT NULL,
    created     timestamptz NOT NULL DEFAULT now(),
    last_used   timestamptz,
    expires     timestamptz,
    revoked     timestamptz
);
CREATE UNIQUE INDEX admin_keys_hash_key ON admin_keys (key_hash);

-- Stable default order for index pagination.
CREATE INDEX users_created ON users (tenant_id, created, id);
CREATE INDEX groups_created ON groups (tenant_id, created, id);
