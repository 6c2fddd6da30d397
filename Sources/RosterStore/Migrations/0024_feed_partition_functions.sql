-- The change feed's tables by time (issue #20): `events` by occurred_at and `webhook_deliveries` by attempted_at
-- (0025 converts them), so retention drops a partition whole instead of deleting rows. Roster keeps the
-- partitions itself, with the functions below: every process creates the partitions ahead of time and drops the
-- expired ones (FeedRetention, through FeedPartitions.swift); the migration uses them too.
--
-- Partitions are ranges of whole UTC days, named after their first day (events_20250101), made only by
-- create_feed_partitions: it is the one place that knows what a partition needs beyond what ATTACH gives it.
-- There is no DEFAULT partition: a default one would hold whatever fell outside the ranges and then refuse the
-- partition that should have held it, and it costs every new partition a scan under an exclusive lock.
--
-- Replicas run these at the same moment: each function takes one advisory lock first (the key is "RstrPart"
-- in ASCII, 0x5273747250617274), so a second caller waits, then sees the first one's partitions and does
-- nothing. Catching duplicate_table instead would leave the ranges to chance (two callers with different
-- spans would make overlapping ones, and ATTACH would refuse the second).

-- The partitions of `parent` and their bounds, oldest first. PostgreSQL keeps a range partition's bounds only as
-- an expression; printed and read back in the same settings (UTC), they round-trip exactly.
CREATE FUNCTION feed_partitions(parent regclass)
RETURNS TABLE (partition regclass, starts timestamptz, ends timestamptz)
LANGUAGE sql STABLE SET TimeZone = 'UTC' AS $$
    SELECT c.oid::regclass, b[1]::timestamptz, b[2]::timestamptz
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \(''([^'']*)''\) TO \(''([^'']*)''\)$') b
    WHERE i.inhparent = parent
    ORDER BY 2
$$;

-- Makes sure every instant from `starts` through `through` falls in a partition of `parent`: from the UTC
-- midnight before `starts`, it skips what partitions cover and fills each gap with partitions of `span_days` days
-- (shorter where the next partition begins sooner). Answers the names of those it made.
--
-- A partition is made apart and then attached: ATTACH takes only a SHARE UPDATE EXCLUSIVE lock on the parent,
-- which readers and writers never wait for, where CREATE TABLE ... PARTITION OF would take an ACCESS EXCLUSIVE
-- one. It also takes a SHARE ROW EXCLUSIVE lock on the table the parent's foreign key references (tenants,
-- webhook_subscriptions) to clone the key, which that table's writers wait for while it is held (a moment) and
-- which waits for them: `wait` (a lock_timeout, 0 for none) bounds that, and a partition not made now is made by
-- a later pass, days before it is needed. The events' unique indexes are made here, per partition, since a unique
-- index of the partitioned table would have to contain occurred_at (0025 says why they are unique across
-- partitions too); the others come from the parent's partitioned indexes, which ATTACH builds on the new, empty
-- table.
CREATE FUNCTION create_feed_partitions(parent regclass, starts timestamptz, through timestamptz, span_days integer, wait interval)
RETURNS SETOF text
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    first_day timestamptz;
    next_day timestamptz;
    covered_to timestamptz;
    name text;
    base text;
    caller_wait text := current_setting('lock_timeout');
BEGIN
    IF span_days < 1 THEN
        RAISE EXCEPTION 'a feed partition spans at least one day, not %', span_days;
    END IF;
    PERFORM pg_advisory_xact_lock(5941220367755473524);
    -- Set after the advisory lock: waiting for another replica's pass is not a table lock's wait.
    PERFORM set_config('lock_timeout', (extract(epoch FROM wait) * 1000)::bigint::text, true);
    SELECT c.relname INTO base FROM pg_class c WHERE c.oid = parent;
    first_day := date_trunc('day', starts);
    WHILE first_day <= through LOOP
        SELECT p.ends INTO covered_to FROM feed_partitions(parent) p WHERE p.starts <= first_day AND first_day < p.ends;
        IF FOUND THEN
            first_day := covered_to;
            CONTINUE;
        END IF;
        SELECT least(first_day + make_interval(days => span_days), min(p.starts)) INTO next_day
        FROM feed_partitions(parent) p WHERE p.starts > first_day;
        name := base || '_' || to_char(first_day, 'YYYYMMDD');
        EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
        IF parent = 'events'::regclass THEN
            EXECUTE format('CREATE UNIQUE INDEX %I ON %I (tenant_id, seq)', name || '_seq', name);
            EXECUTE format('CREATE UNIQUE INDEX %I ON %I (tenant_id, id)', name || '_id', name);
        END IF;
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, first_day, next_day);
        RETURN NEXT name;
        first_day := next_day;
    END LOOP;
    PERFORM set_config('lock_timeout', caller_wait, true);
END
$$;

-- Drops the partitions of `parent` that end at or before `cutoff` (every row in them is older), oldest first, and
-- answers what became of each: 'dropped'; 'unstamped', kept because it holds events not numbered yet (retention
-- never drops an event before readers could have seen it); or 'busy', kept because the table's lock did not come
-- within `wait`, and left with the newer ones to the next pass. A dropped partition of `events` takes the
-- event_days rows of its days with it (0023): no numbered event is left on them.
--
-- DROP takes an ACCESS EXCLUSIVE lock on the parent for a moment, and every reader and writer of the table
-- queues behind it while it waits for a long statement to end: `wait` (a lock_timeout) bounds that queue. The
-- parent is locked first, as DROP itself locks it, and the partition checked for unstamped events again under
-- that lock: a writer still inserting into it would hold the parent, so nothing can arrive between the check and
-- the drop.
CREATE FUNCTION drop_feed_partitions(parent regclass, cutoff timestamptz, wait interval)
RETURNS TABLE (partition text, outcome text)
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    expired record;
    unstamped boolean := false;
    caller_wait text := current_setting('lock_timeout');
BEGIN
    PERFORM pg_advisory_xact_lock(5941220367755473524);
    PERFORM set_config('lock_timeout', (extract(epoch FROM wait) * 1000)::bigint::text, true);
    FOR expired IN SELECT p.partition, p.starts, p.ends FROM feed_partitions(parent) p WHERE p.ends <= cutoff ORDER BY p.starts LOOP
        partition := expired.partition::text;
        IF parent = 'events'::regclass THEN
            EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE seq IS NULL)', expired.partition) INTO unstamped;
        END IF;
        IF unstamped THEN
            outcome := 'unstamped';
            RETURN NEXT;
            CONTINUE;
        END IF;
        BEGIN
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', parent);
        EXCEPTION WHEN lock_not_available THEN
            outcome := 'busy';
            RETURN NEXT;
            EXIT;
        END;
        IF parent = 'events'::regclass THEN
            EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE seq IS NULL)', expired.partition) INTO unstamped;
        END IF;
        IF unstamped THEN
            outcome := 'unstamped';
        ELSE
            EXECUTE format('DROP TABLE %s', expired.partition);
            IF parent = 'events'::regclass THEN
                DELETE FROM event_days d WHERE d.day >= expired.starts AND d.day < expired.ends;
            END IF;
            outcome := 'dropped';
        END IF;
        RETURN NEXT;
    END LOOP;
    PERFORM set_config('lock_timeout', caller_wait, true);
END
$$;
