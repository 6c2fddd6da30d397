-- Rate-limit overrides set through the admin API (/api/v1/.../rate-limit). Credentials without one
-- use their tenant's, else the server's default (ROSTER_RATE_LIMIT_SCIM / ROSTER_RATE_LIMIT_ADMIN).
-- Every process keeps these few rows in memory and re-reads them every couple of seconds: the
-- limiter itself never touches the database. Each change writes its admin_actions entry in the
-- same statement.

-- A tenant's default for its credentials, per API: 'scim' (its SCIM tokens), 'admin' (its bound admin keys).
CREATE TABLE tenant_rate_limits (
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    api             text NOT NULL CHECK (api IN ('scim', 'admin')),
    requests        integer NOT NULL CHECK (requests BETWEEN 1 AND 1000000),
    window_seconds  integer NOT NULL CHECK (window_seconds BETWEEN 1 AND 86400),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, api)
);

-- One SCIM token's own limit.
CREATE TABLE scim_token_rate_limits (
    tenant_id       uuid NOT NULL,
    token_id        uuid NOT NULL,
    requests        integer NOT NULL CHECK (requests BETWEEN 1 AND 1000000),
    window_seconds  integer NOT NULL CHECK (window_seconds BETWEEN 1 AND 86400),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, token_id),
    FOREIGN KEY (tenant_id, token_id) REFERENCES scim_tokens (tenant_id, id)
);

-- One admin key's own limit. Keyed like admin_keys itself: a global key has no tenant.
CREATE TABLE admin_key_rate_limits (
    key_id          uuid PRIMARY KEY REFERENCES admin_keys (id),
    tenant_id       uuid REFERENCES tenants (id),   -- the key's tenant; NULL for a global key
    requests        integer NOT NULL CHECK (requests BETWEEN 1 AND 1000000),
    window_seconds  integer NOT NULL CHECK (window_seconds BETWEEN 1 AND 86400),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_key_rate_limits_tenant ON admin_key_rate_limits (tenant_id, key_id);
