-- The change feed without a tenant-wide lock on the write path.
--
-- Until now (0005) every writing transaction took its tenant's next sequence numbers by updating the
-- tenant's row in event_sequences and held that row until it committed. That made the numbers follow
-- commit order, but it also made every write of a tenant commit one behind another: with 32 clients,
-- an INSERT and commit runs about 20 800 TPS on this box, the same INSERT plus an UPDATE of one shared
-- row about 1 860 (STACK.md). Every write of a tenant sat under the second figure.
--
-- The feed's promises stay: an event exists if and only if its change committed; a tenant's readers
-- see its events in one stable, gapless order (seq 1, 2, 3, …) and a reader resuming after n can never
-- miss an event numbered later than n; a resource's events follow the order its changes were applied;
-- membership events carry only the delta.
--
-- The three designs weighed:
--
-- 1. Order by transaction id, readers bounded by pg_snapshot_xmin(pg_current_snapshot()) (the choice of
--    several PostgreSQL event stores). Writers take no lock at all. But a transaction id is assigned at
--    a transaction's first write, not at its commit, and a Bulk request writes several resources in
--    one transaction: one that started earlier, then waited on a group row another transaction held,
--    applies its change to that group *after* the other one but would be ordered *before* it. Its
--    member delta would then be replayed in the wrong order (a remove before the add it followed), so
--    per-resource order breaks. The horizon is also cluster-wide: one long transaction anywhere (a
--    migration, an admin's psql session, another database of the cluster) stops every tenant's feed
--    for its whole length. The order itself is not gapless, so the cursors change meaning.
-- 2. A lock held for less than the commit (take the numbers, release, commit): then a transaction
--    numbered n+1 can commit before n, and a reader that saw n+1 skips n for ever: the outbox gap.
-- 3. A sequencer that stamps committed events (chosen). Writers insert their events with seq NULL and
--    take nothing shared: no counter row, no NOTIFY (a NOTIFY serializes the commits of every notifying
--    transaction of the database on one lock). Numbers are given later, only to events already
--    committed, by stamp_events() below: it locks the tenant's counter row for one short statement of
--    its own, sees (in a fresh snapshot taken after the lock) every event committed so far that has no
--    number, and numbers them in `pos` order. Since only committed events are numbered, and numbering
--    is serialized per tenant, the numbered events of a tenant are always a gapless prefix 1…n and
--    a later stamp only ever adds n+1, n+2, …: no reader can skip one. An event committed while a
--    stamp runs gets its number in the next stamp.
--
--    Per-resource order: a change to a resource holds that resource's row lock until it commits, and
--    writes its events after taking it. The next writer of the same resource gets the lock only after
--    that commit, so its events have a larger `pos` (a plain sequence, CACHE 1: nextval order is call
--    order), and any snapshot that sees the later change sees the earlier one too. So a stamp either
--    numbers both, the earlier first, or the earlier alone. Unrelated changes are numbered in the order
--    the sequencer sees them committed.
--
--    Who stamps: the process that wrote, right after its commit (in-process signal); every reader of
--    the feed before it reads (so a client that reads after its write sees its own event); and every
--    process's dispatcher at its poll interval, so an event whose writer died just after committing is
--    numbered within one poll. A stamp NOTIFYs roster_events, which wakes the dispatchers of every
--    process.
--
--    Cost: one extra UPDATE per event, made in batches off the request path; an event is readable a few
--    milliseconds after its commit instead of at once (readers stamp, so they do not wait for that).
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN seq DROP NOT NULL;
-- Filled for the rows already there; they are all numbered, so their order among themselves is moot.
ALTER TABLE events ADD COLUMN pos bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY;
CREATE UNIQUE INDEX events_seq ON events (tenant_id, seq);
-- Only events waiting for a number: small, and what a stamp scans.
CREATE INDEX events_unstamped ON events (tenant_id, pos) WHERE seq IS NULL;

-- Numbers the committed, unnumbered events of one tenant (`one_tenant`) or of every tenant (NULL), at most
-- `batch` per tenant, and NOTIFYs roster_events with each tenant's id. Returns how many it numbered
-- per tenant. Each statement of a plpgsql function sees a fresh snapshot: the scan after the lock sees
-- every commit made before it, a previous stamp's included. Tenants are locked in id order, so two
-- stamps of several tenants cannot deadlock.
CREATE FUNCTION stamp_events(one_tenant uuid, batch bigint) RETURNS TABLE (tenant uuid, stamped bigint)
LANGUAGE plpgsql AS $$
DECLARE
    pending uuid;
    numbered bigint;
    done bigint;
BEGIN
    FOR pending IN
        SELECT DISTINCT e.tenant_id FROM events e
        WHERE e.seq IS NULL AND (one_tenant IS NULL OR e.tenant_id = one_tenant)
        ORDER BY 1
    LOOP
        INSERT INTO event_sequences (tenant_id, last_seq) VALUES (pending, 0) ON CONFLICT DO NOTHING;
        SELECT q.last_seq INTO numbered FROM event_sequences q WHERE q.tenant_id = pending FOR UPDATE;
        UPDATE events e SET seq = numbered + w.n
        FROM (SELECT u.pos, row_number() OVER (ORDER BY u.pos) AS n
              FROM (SELECT x.pos FROM events x WHERE x.tenant_id = pending AND x.seq IS NULL ORDER BY x.pos LIMIT batch) u) w
        WHERE e.pos = w.pos;
        GET DIAGNOSTICS done = ROW_COUNT;
        IF done > 0 THEN
            UPDATE event_sequences q SET last_seq = numbered + done WHERE q.tenant_id = pending;
            PERFORM pg_notify('roster_events', pending::text);
            tenant := pending;
            stamped := done;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
