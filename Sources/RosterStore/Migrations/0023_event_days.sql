-- Where each tenant's sequence numbers fall in time, so that a read by sequence number knows which days, and so
-- which of the time partitions 0025 splits `events` into, can hold what it asks for.
--
-- The feed is read by (tenant_id, seq) and kept by time. A sequence number alone says nothing certain about a
-- time: occurred_at is the start of the event's transaction, and a long transaction is numbered after events that
-- began later (0017). So stamp_events, which gives every number, also records per tenant and UTC day the lowest
-- and the highest number it gave to an event of that day. Every numbered event's number lies within its day's
-- [first_seq, last_seq], so the events after n all occurred on days whose last_seq > n. A reader reads those days'
-- bounds and the highest last_seq among them in one statement, then its events with occurred_at within those
-- days and seq no higher than that last_seq: an event numbered between the two statements, perhaps on an earlier
-- day, is left to its next read instead of being passed over.
--
-- The stamp writes one row per tenant and day it numbers events of, under the tenant's counter lock, so never
-- two stamps one row. Retention deletes a day's rows with its partition (drop_feed_partitions, 0024).
CREATE TABLE event_days (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    day        timestamptz NOT NULL,   -- the UTC midnight the day starts at
    first_seq  bigint NOT NULL,
    last_seq   bigint NOT NULL,
    PRIMARY KEY (tenant_id, day)
);

-- Records the days of events numbered other than by stamp_events: those numbered before this migration, and the
-- numbered events tests and benchmarks write directly. Each day's range grows to hold every numbered event of it.
CREATE FUNCTION record_event_days() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO event_days AS d (tenant_id, day, first_seq, last_seq)
    SELECT e.tenant_id, date_trunc('day', e.occurred_at, 'UTC'), min(e.seq), max(e.seq)
    FROM events e WHERE e.seq IS NOT NULL
    GROUP BY 1, 2
    ON CONFLICT (tenant_id, day) DO UPDATE
    SET first_seq = least(d.first_seq, excluded.first_seq), last_seq = greatest(d.last_seq, excluded.last_seq)
$$;
SELECT record_event_days();

-- stamp_events (0017) as it was, and its numbers recorded in event_days in the same statement. It also finds the
-- rows it numbers by their partition key (occurred_at, 0025) and among the tenant's unstamped ones (the partial
-- index events_unstamped), where a join on `pos` alone would look for each row in every partition.
CREATE OR REPLACE FUNCTION stamp_events(one_tenant uuid, batch bigint) RETURNS TABLE (tenant uuid, stamped bigint)
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
        WITH given AS (
            UPDATE events e SET seq = numbered + w.n
            FROM (SELECT u.pos, u.occurred_at, row_number() OVER (ORDER BY u.pos) AS n
                  FROM (SELECT x.pos, x.occurred_at FROM events x
                        WHERE x.tenant_id = pending AND x.seq IS NULL ORDER BY x.pos LIMIT batch) u) w
            WHERE e.tenant_id = pending AND e.seq IS NULL AND e.pos = w.pos AND e.occurred_at = w.occurred_at
            RETURNING e.seq, e.occurred_at
        ), days AS (
            INSERT INTO event_days AS d (tenant_id, day, first_seq, last_seq)
            SELECT pending, date_trunc('day', g.occurred_at, 'UTC'), min(g.seq), max(g.seq) FROM given g GROUP BY 2
            ON CONFLICT (tenant_id, day) DO UPDATE
            SET first_seq = least(d.first_seq, excluded.first_seq), last_seq = greatest(d.last_seq, excluded.last_seq)
        )
        SELECT count(*) INTO done FROM given;
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
