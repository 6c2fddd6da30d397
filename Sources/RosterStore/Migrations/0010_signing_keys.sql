-- The keys that sign Roster's own admin access tokens (EdDSA over Ed25519), shared by every replica.
-- Global, like server_secrets: a token is Roster's, not a tenant's.
--
-- Exactly one key is current (retired IS NULL): the unique partial index below makes replicas that
-- start together on an empty table insert one key between them (INSERT … ON CONFLICT DO NOTHING).
-- Rotation retires the current key and inserts a new one; a retired key keeps verifying until every
-- token it signed has expired (retired + the access-token lifetime), then leaves the JWKS and is deleted.
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,                                       -- RFC 7638 thumbprint of the public key
    algorithm    text NOT NULL CHECK (algorithm = 'EdDSA'),              -- the JWS "alg"
    curve        text NOT NULL CHECK (curve = 'Ed25519'),                -- the JWK "crv"
    private_key  bytea NOT NULL CHECK (octet_length(private_key) = 32),  -- the raw Ed25519 seed; never leaves the server
    public_jwk   jsonb NOT NULL,                                         -- what /api/v1/auth/jwks.json publishes
    created      timestamptz NOT NULL DEFAULT now(),
    retired      timestamptz                                             -- when it stopped signing; NULL: current
);
CREATE UNIQUE INDEX signing_keys_current ON signing_keys ((true)) WHERE retired IS NULL;
