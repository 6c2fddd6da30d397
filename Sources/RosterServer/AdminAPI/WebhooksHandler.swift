import Foundation
import RosterAuth
import RosterFeed
import RosterStore

/// `/api/v1/webhooks` (the key's tenant) and `/api/v1/tenants/{tenant}/webhooks`: subscriptions,
/// their secrets (shown once, at creation or rotation), replay and the delivery log. Scope `webhooks`.
/// One method per pair of routes, `tenant` nil for the credential's.
struct WebhooksHandler: Sendable {
    let tenants: TenantRepository
    let webhooks: WebhookSubscriptions
    let webhookPolicy: WebhookURLPolicy
    /// How long a test event waits for the receiver.
    let webhookTimeout: Duration
    /// How long a rotated-out webhook secret keeps signing.
    let webhookSecretOverlap: Duration
    /// Whether this process runs the webhook dispatcher.
    let dispatcher: Bool
    /// Signs the test event of a subscription in the SET format.
    let securityEvents: SecurityEventSigner

    private func webhookTenant(_ reference: String?) async throws -> Tenant {
        try await tenants.tenant(named: reference, for: AuthenticatedAdmin.require(.webhooks), scope: .webhooks)
    }

    func list(tenant reference: String?, cursor: String?, limit: Int?) async throws -> Components.Responses.WebhookList {
        let tenant = try await webhookTenant(reference)
        let after = try AdminPaging.position(cursor) { CreatedPosition(cursor: $0, .webhooks, scope: tenant.id) }
        let page = try await webhooks.page(tenant: tenant.id, after: after, limit: try AdminPaging.limit(limit))
        return .init(body: .json(.init(
            data: page.items.map(Components.Schemas.Webhook.init), nextCursor: page.next?.cursor(.webhooks, scope: tenant.id))))
    }

    func create(_ body: WebhookCreateBody, tenant reference: String?) async throws -> Components.Responses.WebhookWithSecret {
        let tenant = try await webhookTenant(reference)
        let url = try await webhookURL(body.url)
        let types = try Self.eventTypes(body.eventTypes)
        let description = try Self.webhookDescription(body.description ?? "")
        let audience = try body.setAudience.map(Self.setAudience)
        let (subscription, secret) = try await webhooks.create(
            tenant: tenant.id, url: url, eventTypes: types, description: description, format: try Self.format(body.format) ?? .standardWebhooks,
            setAudience: audience, by: AuthenticatedAdmin.auditContext())
        return .init(body: .json(.init(subscription, secret: secret)))
    }

    func get(_ id: String, tenant reference: String?) async throws -> Components.Responses.Webhook {
        .init(body: .json(.init(try await subscription(id, tenant: reference).subscription)))
    }

    /// The subscription `id` names in the tenant; 404 otherwise (another tenant's ids do not leak).
    private func subscription(_ id: String, tenant reference: String?) async throws -> (tenant: Tenant, subscription: WebhookSubscription) {
        let tenant = try await webhookTenant(reference)
        guard let id = UUID(uuidString: id), let subscription = try await webhooks.get(tenant: tenant.id, id: id) else {
            throw Self.noSuchSubscription(tenant)
        }
        return (tenant, subscription)
    }

    func update(_ id: String, _ body: WebhookUpdateBody, tenant reference: String?) async throws -> Components.Responses.Webhook {
        let tenant = try await webhookTenant(reference)
        var change = WebhookSubscriptions.Change()
        if let url = body.url { change.url = try await webhookURL(url) }
        change.eventTypes = try body.eventTypes.map(Self.eventTypes)
        change.description = try body.description.map(Self.webhookDescription)
        change.enabled = body.enabled
        change.format = try Self.format(body.format)
        if let audience = body.setAudience { change.setAudience = .some(try audience.map(Self.setAudience)) }
        guard let id = UUID(uuidString: id), let updated = try await webhooks.update(tenant: tenant.id, id: id, change, by: AuthenticatedAdmin.auditContext()) else {
            throw Self.noSuchSubscription(tenant)
        }
        return .init(body: .json(.init(updated)))
    }

    func delete(_ id: String, tenant reference: String?) async throws {
        let tenant = try await webhookTenant(reference)
        guard let id = UUID(uuidString: id), try await webhooks.delete(tenant: tenant.id, id: id, by: AuthenticatedAdmin.auditContext()) else {
            throw Self.noSuchSubscription(tenant)
        }
    }

    func rotateSecret(_ id: String, tenant reference: String?) async throws -> Components.Responses.WebhookWithSecret {
        let tenant = try await webhookTenant(reference)
        guard let id = UUID(uuidString: id),
            case let (subscription, secret)? = try await webhooks.rotateSecret(
                tenant: tenant.id, id: id, overlap: webhookSecretOverlap, by: AuthenticatedAdmin.auditContext())
        else { throw Self.noSuchSubscription(tenant) }
        return .init(body: .json(.init(subscription, secret: secret)))
    }

    func deliveries(_ id: String, cursor: String?, limit: Int?, tenant reference: String?) async throws -> Components.Responses.WebhookDeliveryList {
        let (tenant, subscription) = try await subscription(id, tenant: reference)
        let after = try AdminPaging.position(cursor) { DeliveryPosition(cursor: $0, tenant: tenant.id, subscription: subscription.id) }
        let page = try await webhooks.deliveryPage(tenant: tenant.id, subscription: subscription.id, after: after, limit: try AdminPaging.limit(limit))
        return .init(body: .json(.init(
            data: page.items.map(Components.Schemas.WebhookDelivery.init),
            nextCursor: page.next?.cursor(tenant: tenant.id, subscription: subscription.id))))
    }

    /// `through` nil: everything from `event` on; else only `event` through `through` (WebhookSubscriptions.replay).
    func replay(_ id: String, from event: String, through last: String?, tenant reference: String?) async throws -> Components.Responses.Webhook {
        let (tenant, subscription) = try await subscription(id, tenant: reference)
        let from = try Self.eventID(event, field: "event_id")
        let through = try last.map { try Self.eventID($0, field: "through_event_id") }
        switch try await webhooks.replay(tenant: tenant.id, id: subscription.id, from: from, through: through, by: AuthenticatedAdmin.auditContext()) {
        case .replayed(let replayed):
            return .init(body: .json(.init(replayed)))
        case .noSuchSubscription:
            throw Self.noSuchSubscription(tenant)
        case .noSuchEvent(let missing):
            throw AdminError.notFound("No event \(missing.lowercasedString) in tenant '\(tenant.name)'.")
        case .reversed(let start, let end):
            throw AdminError.invalidRequest(
                "'through_event_id' (sequence \(end)) comes before 'event_id' (sequence \(start)) in the tenant's feed; a range runs from its first event to its last.")
        }
    }

    private static func eventID(_ text: String, field: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else {
            throw AdminError.invalidRequest("'\(field)' must be an event's id, as the change feed (GET /api/v1/events) shows it.")
        }
        return id
    }

    /// One signed test POST, now, in the subscription's format; logged with the subscription's deliveries.
    func sendTest(_ id: String, tenant reference: String?) async throws -> Components.Schemas.WebhookDelivery {
        let (tenant, subscription) = try await subscription(id, tenant: reference)
        guard let (url, secrets) = try await webhooks.target(tenant: tenant.id, id: subscription.id) else { throw Self.noSuchSubscription(tenant) }
        let eventID = UUID()
        let sender = WebhookSender(timeout: webhookTimeout, policy: webhookPolicy)
        let attempt =
            switch subscription.format {
            case .standardWebhooks:
                await sender.send(id: eventID.lowercasedString, body: WebhookPayload.test(subscription: subscription.id), to: url, secrets: secrets)
            case .securityEventToken:
                await sender.send(
                    securityEvent: try await securityEvents.test(subscription: subscription.id, audience: subscription.audience, id: eventID), to: url)
            }
        let delivery = RosterStore.WebhookDelivery(
            eventSequence: nil, eventID: eventID, attempt: 1, statusCode: attempt.status, outcome: attempt.succeeded ? .succeeded : .failed,
            error: attempt.error, latencyMilliseconds: attempt.milliseconds, nextRetryAt: nil)
        try await webhooks.recordTest(delivery, tenant: tenant.id, subscription: subscription.id, by: AuthenticatedAdmin.auditContext())
        return .init(delivery)
    }

    /// Each subscription's lag on the tenants where the credential holds `webhooks` (every tenant for a global grant).
    func getWebhookHealth(_ input: Operations.GetWebhookHealth.Input) async throws -> Operations.GetWebhookHealth.Output {
        let principal = try AuthenticatedAdmin.require(.webhooks)
        let tenants: Set<UUID>? =
            principal.allowsGlobally(.webhooks) ? nil : Set(principal.grants.tenants.keys.filter { principal.allows(.webhooks, in: $0) })
        return .ok(.init(body: .json(try await HealthController.webhooks(webhooks, tenants: tenants, dispatcher: dispatcher))))
    }

    /// A SET `aud` an admin chose (SecurityEventAudience); null in an update: the URL again.
    private static func setAudience(_ value: String) throws -> String {
        if let problem = SecurityEventAudience.problem(value) { throw AdminError.invalidRequest(problem) }
        return value
    }

    private static func noSuchSubscription(_ tenant: Tenant) -> AdminError {
        .notFound("No such webhook subscription in tenant '\(tenant.name)'.")
    }
}

extension AdminAPI {
    func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        .ok(try await webhooks.list(tenant: nil, cursor: input.query.cursor, limit: input.query.limit))
    }

    func listTenantWebhooks(_ input: Operations.ListTenantWebhooks.Input) async throws -> Operations.ListTenantWebhooks.Output {
        .ok(try await webhooks.list(tenant: input.path.tenant, cursor: input.query.cursor, limit: input.query.limit))
    }

    func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .created(try await webhooks.create(body, tenant: nil))
    }

    func createTenantWebhook(_ input: Operations.CreateTenantWebhook.Input) async throws -> Operations.CreateTenantWebhook.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .created(try await webhooks.create(body, tenant: input.path.tenant))
    }

    func getWebhook(_ input: Operations.GetWebhook.Input) async throws -> Operations.GetWebhook.Output {
        .ok(try await webhooks.get(input.path.id, tenant: nil))
    }

    func getTenantWebhook(_ input: Operations.GetTenantWebhook.Input) async throws -> Operations.GetTenantWebhook.Output {
        .ok(try await webhooks.get(input.path.id, tenant: input.path.tenant))
    }

    func updateWebhook(_ input: Operations.UpdateWebhook.Input) async throws -> Operations.UpdateWebhook.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .ok(try await webhooks.update(input.path.id, body, tenant: nil))
    }

    func updateTenantWebhook(_ input: Operations.UpdateTenantWebhook.Input) async throws -> Operations.UpdateTenantWebhook.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .ok(try await webhooks.update(input.path.id, body, tenant: input.path.tenant))
    }

    func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        try await webhooks.delete(input.path.id, tenant: nil)
        return .noContent(.init())
    }

    func deleteTenantWebhook(_ input: Operations.DeleteTenantWebhook.Input) async throws -> Operations.DeleteTenantWebhook.Output {
        try await webhooks.delete(input.path.id, tenant: input.path.tenant)
        return .noContent(.init())
    }

    func rotateWebhookSecret(_ input: Operations.RotateWebhookSecret.Input) async throws -> Operations.RotateWebhookSecret.Output {
        .ok(try await webhooks.rotateSecret(input.path.id, tenant: nil))
    }

    func rotateTenantWebhookSecret(
        _ input: Operations.RotateTenantWebhookSecret.Input
    ) async throws -> Operations.RotateTenantWebhookSecret.Output {
        .ok(try await webhooks.rotateSecret(input.path.id, tenant: input.path.tenant))
    }

    func listWebhookDeliveries(_ input: Operations.ListWebhookDeliveries.Input) async throws -> Operations.ListWebhookDeliveries.Output {
        .ok(try await webhooks.deliveries(input.path.id, cursor: input.query.cursor, limit: input.query.limit, tenant: nil))
    }

    func listTenantWebhookDeliveries(
        _ input: Operations.ListTenantWebhookDeliveries.Input
    ) async throws -> Operations.ListTenantWebhookDeliveries.Output {
        .ok(try await webhooks.deliveries(input.path.id, cursor: input.query.cursor, limit: input.query.limit, tenant: input.path.tenant))
    }

    func replayWebhook(_ input: Operations.ReplayWebhook.Input) async throws -> Operations.ReplayWebhook.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .accepted(try await webhooks.replay(input.path.id, from: body.eventId, through: body.throughEventId, tenant: nil))
    }

    func replayTenantWebhook(_ input: Operations.ReplayTenantWebhook.Input) async throws -> Operations.ReplayTenantWebhook.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .accepted(try await webhooks.replay(input.path.id, from: body.eventId, through: body.throughEventId, tenant: input.path.tenant))
    }

    func sendWebhookTest(_ input: Operations.SendWebhookTest.Input) async throws -> Operations.SendWebhookTest.Output {
        .ok(.init(body: .json(try await webhooks.sendTest(input.path.id, tenant: nil))))
    }

    func sendTenantWebhookTest(_ input: Operations.SendTenantWebhookTest.Input) async throws -> Operations.SendTenantWebhookTest.Output {
        .ok(.init(body: .json(try await webhooks.sendTest(input.path.id, tenant: input.path.tenant))))
    }

    func getWebhookHealth(_ input: Operations.GetWebhookHealth.Input) async throws -> Operations.GetWebhookHealth.Output {
        try await webhooks.getWebhookHealth(input)
    }
}
