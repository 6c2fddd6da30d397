-- Secrets at rest: the secrets Roster must use (not only check) are sealed with the operator's key
-- (ROSTER_SECRET_KEY, AES-256-GCM) in `*_sealed` columns. The plaintext columns stay for rows written
-- before a key was configured, or by an operator who opted out (ROSTER_ALLOW_PLAINTEXT_SECRETS): the first
-- `roster serve` start with a key seals them and sets the plaintext to NULL. A row holds each secret in
-- exactly one form. A sealed value is: version byte 1, the key id's length, the key id, then AES-GCM's
-- 12-byte nonce, ciphertext and 16-byte tag; its authenticated data names its row, so it opens nowhere else.

ALTER TABLE server_secrets ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE server_secrets ADD COLUMN secret_sealed bytea;
ALTER TABLE server_secrets ADD CONSTRAINT server_secrets_one_form CHECK ((secret IS NULL) <> (secret_sealed IS NULL));

ALTER TABLE signing_keys ALTER COLUMN private_key DROP NOT NULL;
ALTER TABLE signing_keys ADD COLUMN private_key_sealed bytea;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_one_form CHECK ((private_key IS NULL) <> (private_key_sealed IS NULL));

ALTER TABLE webhook_subscriptions ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE webhook_subscriptions ADD COLUMN secret_sealed bytea;
ALTER TABLE webhook_subscriptions ADD COLUMN previous_secret_sealed bytea;
ALTER TABLE webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_secret_one_form
    CHECK ((secret IS NULL) <> (secret_sealed IS NULL));
ALTER TABLE webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_previous_secret_one_form
    CHECK (previous_secret IS NULL OR previous_secret_sealed IS NULL);
