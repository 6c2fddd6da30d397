-- Keys and sessions that end with the people behind them, and sign-in work counted before it is done.

-- A key made by a key (directly or through a session it signed in) belongs to that key: revoking, expiring
-- or deleting the parent stops it, and its rights never exceed the parent's.
ALTER TABLE admin_keys ADD COLUMN owner_key_id uuid REFERENCES admin_keys (id) ON DELETE CASCADE;
CREATE INDEX admin_keys_owner_key ON admin_keys (owner_key_id) WHERE owner_key_id IS NOT NULL;

-- A key made by a trusted issuer's subject ("issuer subject") works only with the rights that subject's
-- latest verified token resolved to, and only until `valid_until`.
ALTER TABLE admin_keys ADD COLUMN owner_subject text;
CREATE TABLE admin_oidc_rights (
    subject      text PRIMARY KEY,
    grants       jsonb NOT NULL,
    resolved     timestamptz NOT NULL DEFAULT now(),
    valid_until  timestamptz NOT NULL
);

-- Sign-in attempts per account ('account:<email>') and per client address ('address:<ip>'), counted
-- before a password is checked; a window starts at its first attempt.
CREATE TABLE admin_login_attempts (
    key           text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    attempts      integer NOT NULL
);
CREATE INDEX admin_login_attempts_window ON admin_login_attempts (window_start);
