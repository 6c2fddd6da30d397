import Foundation
import OpenAPIRuntime
import RosterAuth
import RosterFeed
import RosterStore
import SCIM

/// Store records as the document's schemas; ids are lowercase UUIDs, secrets appear only in the `…Created` bodies.
extension Components.Schemas.Tenant {
    init(_ tenant: Tenant) {
        self.init(id: tenant.id.lowercasedString, name: tenant.name, created: tenant.created, operatorDirectory: tenant.operatorDirectory)
    }
}

extension Components.Schemas.ScimToken {
    init(_ token: ScimTokenRecord) {
        self.init(
            id: token.id.lowercasedString, tenantId: token.tenantID.lowercasedString, name: token.name, prefix: token.prefix,
            created: token.created, lastUsed: token.lastUsed, expiresAt: token.expires, revoked: token.revoked,
            setupLinkId: token.setupLinkID?.lowercasedString)
    }
}

extension Components.Schemas.ScimTokenCreated {
    init(_ token: ScimTokenRecord, secret: Secret, scimBaseURL: String) {
        self.init(
            id: token.id.lowercasedString, tenantId: token.tenantID.lowercasedString, name: token.name, prefix: token.prefix,
            created: token.created, expiresAt: token.expires, token: secret.reveal(), scimBaseUrl: scimBaseURL)
    }
}

extension Components.Schemas.AdminKey {
    init(_ key: AdminKeyRecord) {
        self.init(
            id: key.id.lowercasedString, tenantId: key.tenantID?.lowercasedString, name: key.name, prefix: key.prefix,
            scopes: key.scopes.compactMap { .init(rawValue: $0.rawValue) }, created: key.created,
            lastUsed: key.lastUsed, expiresAt: key.expires, revoked: key.revoked, ownerId: key.owner?.lowercasedString,
            ownerKeyId: key.ownerKey?.lowercasedString, ownerSubject: key.ownerSubject)
    }
}

extension Components.Schemas.AdminKeyCreated {
    init(_ key: AdminKeyRecord, secret: Secret) {
        self.init(
            id: key.id.lowercasedString, tenantId: key.tenantID?.lowercasedString, name: key.name, prefix: key.prefix,
            scopes: key.scopes.compactMap { .init(rawValue: $0.rawValue) }, created: key.created,
            expiresAt: key.expires, key: secret.reveal())
    }
}

extension Components.Schemas.Webhook {
    init(_ subscription: WebhookSubscription) {
        self.init(
            id: subscription.id.lowercasedString, tenantId: subscription.tenant.lowercasedString, url: subscription.url,
            description: subscription.description, format: .init(subscription.format), setAudience: subscription.audience, eventTypes: subscription.eventTypes?.map(Components.Schemas.EventType.init),
            enabled: subscription.enabled, disabledReason: subscription.disabledReason, pausedAt: subscription.pausedAt,
            position: subscription.position, replayThrough: subscription.replay?.through, resumePosition: subscription.replay?.resume,
            previousSecretExpiresAt: subscription.previousSecretUntil, created: subscription.created, updated: subscription.updated)
    }
}

extension Components.Schemas.WebhookWithSecret {
    init(_ subscription: WebhookSubscription, secret: WebhookSecret) {
        self.init(
            id: subscription.id.lowercasedString, tenantId: subscription.tenant.lowercasedString, url: subscription.url,
            description: subscription.description, format: .init(subscription.format), setAudience: subscription.audience, eventTypes: subscription.eventTypes?.map(Components.Schemas.EventType.init),
            enabled: subscription.enabled, disabledReason: subscription.disabledReason, pausedAt: subscription.pausedAt,
            position: subscription.position, replayThrough: subscription.replay?.through, resumePosition: subscription.replay?.resume,
            previousSecretExpiresAt: subscription.previousSecretUntil, created: subscription.created, updated: subscription.updated,
            secret: secret.text)
    }
}

extension Components.Schemas.WebhookFormat {
    init(_ format: WebhookFormat) {
        self = switch format {
        case .standardWebhooks: .standardWebhooks
        case .securityEventToken: .set
        }
    }
}

extension Components.Schemas.WebhookDelivery {
    init(_ delivery: RosterStore.WebhookDelivery) {
        let outcome: OutcomePayload =
            switch delivery.outcome {
            case .succeeded: .succeeded
            case .retrying: .retrying
            case .failed: .failed
            case .disabled: .disabled
            }
        self.init(
            id: delivery.id.lowercasedString, eventId: delivery.eventID.lowercasedString, eventSequence: delivery.eventSequence,
            attempt: delivery.attempt, statusCode: delivery.statusCode, outcome: outcome, latencyMs: delivery.latencyMilliseconds,
            error: delivery.error, nextRetryAt: delivery.nextRetryAt, attemptedAt: delivery.attemptedAt)
    }
}

extension UUID {
    var lowercasedString: String { uuidString.lowercased() }
}

/// Admin API dates as SCIM writes them (RFC 3339 UTC with milliseconds), so an event's
/// `occurred_at` reads the same in the pull API and in a webhook; either form is accepted.
struct RFC3339Dates: DateTranscoder {
    func encode(_ date: Date) throws -> String { SCIMDate.format(date) }

    func decode(_ text: String) throws -> Date {
        guard let date = SCIMDate.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Expected an RFC 3339 date-time."))
        }
        return date
    }
}
