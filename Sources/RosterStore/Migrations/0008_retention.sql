-- Retention: events and delivery attempts older than the configured retention are deleted in
-- batches by every roster process (see FeedRetention); these indexes find the oldest rows.
CREATE INDEX events_occurred ON events (occurred_at);
CREATE INDEX webhook_deliveries_attempted ON webhook_deliveries (attempted_at);
