-- emails.value filters: the lowercased addresses of each user, GIN-indexed with the tenant
-- (btree_gin lets the tenant lead the index, as every other index here does).
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE users ADD COLUMN emails text[] NOT NULL DEFAULT '{}';

UPDATE users SET emails = coalesce(
    (SELECT array_agg(DISTINCT lower(e->>'value')) FROM jsonb_array_elements(body->'emails') AS e
      WHERE e->>'value' IS NOT NULL),
    '{}');

CREATE INDEX users_emails ON users USING gin (tenant_id, emails);
