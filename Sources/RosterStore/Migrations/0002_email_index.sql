-- emails.value filters: the lowercased addresses of each user in a GIN-indexed text[] column.
-- This index does not lead with tenant_id: a GIN key of the tenant would make the planner cost
-- reading the tenant's whole posting list, so it would never use the index; the handful of
-- rows an address matches are checked against the tenant instead. fastupdate is off so a
-- lookup never scans a long pending list after a burst of inserts (an IdP's first sync).
ALTER TABLE users ADD COLUMN emails text[] NOT NULL DEFAULT '{}';

UPDATE users SET emails = coalesce(
    (SELECT array_agg(DISTINCT lower(e->>'value')) FROM jsonb_array_elements(body->'emails') AS e
      WHERE e->>'value' IS NOT NULL),
    '{}');

CREATE INDEX users_emails ON users USING gin (emails) WITH (fastupdate = off);
