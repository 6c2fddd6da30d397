-- Secrets every replica shares, made once by the database: the key that signs pagination cursors.
CREATE TABLE server_secrets (
    name     text PRIMARY KEY,
    secret   bytea NOT NULL,
    created  timestamptz NOT NULL DEFAULT now()
);

-- 32 bytes from two v4 UUIDs (pg_strong_random underneath): 244 random bits.
INSERT INTO server_secrets (name, secret)
VALUES ('cursor', uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
