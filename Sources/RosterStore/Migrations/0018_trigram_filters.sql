-- co / sw / ew filters (RFC 7644 §3.4.2.2) on userName, displayName, externalId and emails.value
-- of users, and displayName and externalId of groups, through pg_trgm GIN indexes.
--
-- The filter compiler already writes these as `lower(col) LIKE lower($n) ESCAPE '\'` (caseExact=false:
-- userName, displayName) and `external_id LIKE $n ESCAPE '\'` (caseExact=true); each index below is on
-- exactly that expression, so the planner matches it. pg_trgm lowercases its trigrams, so the index on
-- external_id serves the case-sensitive LIKE too; the LIKE itself rechecks every candidate, so the answer
-- is exact whatever the index returns. A pattern with no trigram (a co value under 3 characters, e.g.
-- `userName co "ab"`) gives the index nothing to search: the planner reads the tenant's rows instead,
-- which is what every co/sw/ew did before this migration, and the answer is still exact.
--
-- emails: users.emails (0002) holds each user's lowercased emails.value. A text[] has no trigram operator
-- class, and array_to_string is only STABLE (it may call any element type's output function), so it
-- cannot be indexed directly. roster_emails_text joins the array with newlines, one before and one after
-- every address: `co v` becomes `LIKE '%v%'`, `sw v` `LIKE '%<nl>v%'`, `ew v` `LIKE '%v<nl>%'`. For text[]
-- the join is immutable in fact (text's output is the text), so declaring it IMMUTABLE is true. The
-- compiler uses this only to narrow (a newline inside an address could make it match more, never less)
-- and keeps the exact test over body->'emails' beside it. Chosen over a second, generated column: an
-- expression index rewrites no row, adds nothing to `SELECT *`, and leaves the write path's statements
-- alone.
--
-- Like users_emails (0002), the indexes do not lead with tenant_id (that would need btree_gin, and a GIN
-- key of the tenant makes the planner cost the tenant's whole posting list); the few rows a pattern
-- matches are checked against the tenant instead.
--
-- Writes: each index adds a user's trigrams (a dozen to a few dozen keys) to a GIN tree. Written into the
-- tree at once (fastupdate = off, like users_emails) that doubled a single-row INSERT here (0.8 to 1.9 ms);
-- through GIN's pending list (fastupdate = on) it costs about nothing until the list is merged. The
-- list is capped at 256 kB per index instead of 4 MB, so a co/sw/ew lookup that must also read it reads at
-- most 32 pages, and the planner, which costs that read, keeps choosing the index right after a burst of
-- inserts (an IdP's first sync); autovacuum and the insert that fills it merge it.
--
-- pg_trgm ships with PostgreSQL (Debian's postgresql-15, the postgres:15 image) and is a trusted
-- extension since PostgreSQL 13: the database's owner may create it without being a superuser.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION roster_emails_text(emails text[]) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN E'\n' || array_to_string(emails, E'\n') || E'\n';

CREATE INDEX users_user_name_trgm ON users USING gin (lower(user_name) gin_trgm_ops) WITH (gin_pending_list_limit = 256);
CREATE INDEX users_display_name_trgm ON users USING gin (lower(display_name) gin_trgm_ops) WITH (gin_pending_list_limit = 256);
CREATE INDEX users_external_id_trgm ON users USING gin (external_id gin_trgm_ops) WITH (gin_pending_list_limit = 256);
CREATE INDEX users_emails_trgm ON users USING gin (roster_emails_text(emails) gin_trgm_ops) WITH (gin_pending_list_limit = 256);
CREATE INDEX groups_display_name_trgm ON groups USING gin (lower(display_name) gin_trgm_ops) WITH (gin_pending_list_limit = 256);
CREATE INDEX groups_external_id_trgm ON groups USING gin (external_id gin_trgm_ops) WITH (gin_pending_list_limit = 256);
