-- SCIM events as Security Event Tokens (issue #21): a subscription receives either the Standard Webhooks JSON
-- (`standard_webhooks`, the default, unchanged) or one RFC 8417 SET per event in the RFC 9967 profile, pushed as
-- RFC 8935 says (`set`). `set_audience` is the SETs' `aud` claim; NULL: the subscription's URL, so moving the URL
-- moves the audience with it. The dispatcher reads both when it takes up a subscription and before each batch of events.
ALTER TABLE webhook_subscriptions
    ADD COLUMN format text NOT NULL DEFAULT 'standard_webhooks',
    ADD COLUMN set_audience text,
    ADD CONSTRAINT webhook_subscriptions_format CHECK (format IN ('standard_webhooks', 'set')),
    ADD CONSTRAINT webhook_subscriptions_set_audience CHECK (set_audience IS NULL OR length(set_audience) BETWEEN 1 AND 512);
