-- The dispatcher claims work per tenant (at most its share of the workers, WebhookDispatcher.claim):
-- each tenant's due subscriptions in next_attempt_at order, read only as far as that tenant's share.
-- The single-column index served the old claim, ordered across all tenants, and nothing else.
CREATE INDEX webhook_subscriptions_tenant_due ON webhook_subscriptions (tenant_id, next_attempt_at) WHERE enabled AND paused_at IS NULL;
DROP INDEX webhook_subscriptions_due;
