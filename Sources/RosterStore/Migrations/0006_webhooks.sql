-- Webhook subscriptions: where a tenant's events go, and how far each subscription has got.
--
-- `position` is the sequence number of the last event delivered or given up; the dispatcher
-- sends the next matching one, and only after it succeeded (or was given up) the one after:
-- delivery is in order per subscription. `lease_owner`/`lease_until` let several `roster serve`
-- processes share the work: one holds a subscription's lease at a time, and when it dies the
-- lease runs out and another takes over from `position`.
CREATE TABLE webhook_subscriptions (
    tenant_id              uuid NOT NULL REFERENCES tenants (id),
    id                     uuid NOT NULL,
    url                    text NOT NULL,
    description            text NOT NULL DEFAULT '',
    event_types            text[],                 -- NULL: every type
    enabled                boolean NOT NULL DEFAULT true,
    disabled_reason        text,                   -- 'gone' when the receiver answered 410
    paused_at              timestamptz,            -- set when the retry schedule ran out
    secret                 text NOT NULL,          -- whsec_…, needed to sign; never shown again
    previous_secret        text,                   -- signs beside the new one until previous_until
    previous_until         timestamptz,
    position               bigint NOT NULL,
    attempts               integer NOT NULL DEFAULT 0,
    next_attempt_at        timestamptz NOT NULL DEFAULT now(),
    lease_owner            uuid,
    lease_until            timestamptz,
    created                timestamptz NOT NULL DEFAULT now(),
    updated                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_subscriptions_due ON webhook_subscriptions (next_attempt_at) WHERE enabled AND paused_at IS NULL;

-- One row per delivery attempt.
CREATE TABLE webhook_deliveries (
    tenant_id        uuid NOT NULL,
    subscription_id  uuid NOT NULL,
    id               uuid NOT NULL,
    event_seq        bigint,                       -- NULL for a test event
    event_id         uuid NOT NULL,
    attempt          integer NOT NULL,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    status_code      integer,
    outcome          text NOT NULL CHECK (outcome IN ('succeeded', 'retrying', 'failed', 'disabled')),
    error            text,
    latency_ms       integer NOT NULL,
    next_retry_at    timestamptz,
    PRIMARY KEY (tenant_id, subscription_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhook_subscriptions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (tenant_id, subscription_id, attempted_at DESC);
