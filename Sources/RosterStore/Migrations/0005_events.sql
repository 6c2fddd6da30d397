-- The change feed (transactional outbox): one row per change, written in the transaction of the
-- change it records, so an event exists if and only if its change committed.
--
-- Order without gaps: each writing transaction takes its tenant's next sequence numbers by
-- updating that tenant's row in event_sequences, and holds the row lock until it commits. A second
-- writer of the same tenant waits there, so sequence numbers are handed out in commit order and
-- the committed events of a tenant are always a prefix 1…n: a reader resuming after n can never
-- skip an event that commits later with a smaller number (the outbox gap of a plain sequence).
-- The lock is taken as the transaction's last statement, so writers wait only for commits.
CREATE TABLE event_sequences (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id),
    last_seq   bigint NOT NULL
);

CREATE TABLE events (
    tenant_id         uuid NOT NULL REFERENCES tenants (id),
    seq               bigint NOT NULL,
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
    PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX events_id ON events (tenant_id, id);
CREATE INDEX events_resource ON events (tenant_id, resource_id, seq);
