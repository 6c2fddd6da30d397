-- `events` partitioned by occurred_at and `webhook_deliveries` by attempted_at (0024 has the functions that
-- keep the partitions). Every row moves as it is: each event keeps its `pos`, `seq` and `id`, and the identity
-- sequence of `pos` goes on from where it stood, so new events number on after the old ones. The tables are
-- copied, which takes a while on a large feed (the migration holds them meanwhile): about a minute per million
-- events here (2 million in 2 min 8 s on a busy 2-core machine).
--
-- Uniqueness. A unique index of a partitioned table must contain the partition key, so:
-- - `pos`: the primary key is (pos, occurred_at). `pos` alone is unique because only the identity gives it
--   (GENERATED ALWAYS: an INSERT cannot choose one, short of OVERRIDING SYSTEM VALUE, which only the copy below
--   uses, with the old table's unique values).
-- - (tenant_id, seq): unique per partition (an index create_feed_partitions makes on each); across partitions,
--   by stamp_events: it numbers a tenant's events only while holding the tenant's event_sequences row, from
--   last_seq + 1 on, and moves last_seq past them in the same transaction, so no two stamps give a number twice,
--   wherever the events sit. EventLogTests stamps events of two partitions at once and checks each number once.
-- - (tenant_id, id): unique per partition, the same way; across partitions, because `id` is gen_random_uuid()
--   (122 random bits) and nothing else writes it.
--
-- Reads: the feed is read by (tenant_id, seq), from each partition's (tenant_id, seq) index, merged (Merge Append).
-- A read by cursor first asks event_days (0023) which days can hold the events after its cursor and names them as
-- a range of occurred_at, so the planner reads only those partitions: one or two for a reader near the head, and
-- for an unfiltered page far behind (EventLog.read). The audit log (by time) and the delivery log (by attempted_at)
-- skip the partitions outside their range themselves.

-- The old tables step aside; their indexes go now, which frees the names.
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER SEQUENCE events_pos_seq RENAME TO events_unpartitioned_pos_seq;
ALTER TABLE events_unpartitioned DROP CONSTRAINT events_pkey;
DROP INDEX events_id, events_seq, events_resource, events_tenant_occurred, events_occurred, events_unstamped;

ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_unpartitioned;
ALTER TABLE webhook_deliveries_unpartitioned DROP CONSTRAINT webhook_deliveries_pkey;
DROP INDEX webhook_deliveries_listed, webhook_deliveries_attempted;

-- The columns in the same order as before (0005, 0017), the constraints under their old names.
CREATE TABLE events (
    tenant_id         uuid NOT NULL CONSTRAINT events_tenant_id_fkey REFERENCES tenants (id),
    seq               bigint,
    id                uuid NOT NULL,
    type              text NOT NULL,
    resource_type     text NOT NULL,
    resource_id       uuid NOT NULL,
    resource_version  bigint NOT NULL,
    actor_type        text NOT NULL,
    actor_id          uuid,
    transaction_id    uuid NOT NULL,
    occurred_at       timestamptz NOT NULL,
    data              jsonb NOT NULL,
    pos               bigint GENERATED ALWAYS AS IDENTITY (CACHE 1),
    PRIMARY KEY (pos, occurred_at)
) PARTITION BY RANGE (occurred_at);
-- The unique (tenant_id, seq) and (tenant_id, id) are per partition (create_feed_partitions); these are on all.
CREATE INDEX events_resource ON events (tenant_id, resource_id, seq);
CREATE INDEX events_tenant_occurred ON events (tenant_id, occurred_at, seq);
CREATE INDEX events_unstamped ON events (tenant_id, pos) WHERE seq IS NULL;

-- The delivery log's primary key is the order it is listed in (0020's webhook_deliveries_listed), which contains
-- attempted_at and is unique since `id` is; the old key, (tenant_id, subscription_id, id), could not be kept.
CREATE TABLE webhook_deliveries (
    tenant_id        uuid NOT NULL,
    subscription_id  uuid NOT NULL,
    id               uuid NOT NULL,
    event_seq        bigint,
    event_id         uuid NOT NULL,
    attempt          integer NOT NULL,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    status_code      integer,
    outcome          text NOT NULL CONSTRAINT webhook_deliveries_outcome_check
                     CHECK (outcome IN ('succeeded', 'retrying', 'failed', 'disabled')),
    error            text,
    latency_ms       integer NOT NULL,
    next_retry_at    timestamptz,
    PRIMARY KEY (tenant_id, subscription_id, attempted_at, attempt, id),
    CONSTRAINT webhook_deliveries_tenant_id_subscription_id_fkey FOREIGN KEY (tenant_id, subscription_id)
        REFERENCES webhook_subscriptions (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (attempted_at);

-- Partitions from the oldest row's day to three days ahead (as FeedRetention keeps them), each a thirtieth of the
-- history (at least a day), so a long history does not become hundreds of partitions; FeedRetention makes the
-- next ones to the span its retention asks for.
SELECT create_feed_partitions('events', o.oldest, now() + interval '3 days',
                              greatest(1, extract(day FROM (now() - o.oldest) / 30)::integer), interval '0')
FROM (SELECT coalesce(min(occurred_at), now()) AS oldest FROM events_unpartitioned) o;
SELECT create_feed_partitions('webhook_deliveries', o.oldest, now() + interval '3 days',
                              greatest(1, extract(day FROM (now() - o.oldest) / 30)::integer), interval '0')
FROM (SELECT coalesce(min(attempted_at), now()) AS oldest FROM webhook_deliveries_unpartitioned) o;

INSERT INTO events (tenant_id, seq, id, type, resource_type, resource_id, resource_version, actor_type, actor_id,
                    transaction_id, occurred_at, data, pos)
OVERRIDING SYSTEM VALUE
SELECT tenant_id, seq, id, type, resource_type, resource_id, resource_version, actor_type, actor_id,
       transaction_id, occurred_at, data, pos
FROM events_unpartitioned;
-- The next event takes the number the old table's next one would have.
SELECT setval(pg_get_serial_sequence('events', 'pos'), s.last_value, s.is_called) FROM events_unpartitioned_pos_seq s;

INSERT INTO webhook_deliveries (tenant_id, subscription_id, id, event_seq, event_id, attempt, attempted_at, status_code,
                                outcome, error, latency_ms, next_retry_at)
SELECT tenant_id, subscription_id, id, event_seq, event_id, attempt, attempted_at, status_code,
       outcome, error, latency_ms, next_retry_at
FROM webhook_deliveries_unpartitioned;

DROP TABLE events_unpartitioned;
DROP TABLE webhook_deliveries_unpartitioned;
