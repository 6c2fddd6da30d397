import ArgumentParser
import Configuration
import Foundation
import Logging
import RosterFeed
import RosterOutbound
import RosterServer
import RosterStore

struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook", abstract: "Manage webhook subscriptions (where a tenant's events are sent).",
        subcommands: [Create.self, List.self, Rotate.self, Replay.self, Deliveries.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Subscribe a URL to a tenant's events; its signing secret is printed once.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName
        @Option(help: "Where the events are sent: an absolute http or https URL.") var url: String
        @Option(name: .customLong("event-type"), help: "An event type to send, e.g. user.deleted (repeatable; default: every type).")
        var eventTypes: [String] = []
        @Option(help: "What the subscription is for.") var description = ""
        @Option(help: "standard_webhooks (JSON signed with the secret) or set (Security Event Tokens, RFC 8417/9967/8935).")
        var format = WebhookFormat.standardWebhooks.rawValue
        @Option(name: .customLong("set-audience"), help: "The `aud` of its Security Event Tokens (default: the URL).") var setAudience: String?

        func run() async throws {
            guard let format = WebhookFormat(rawValue: format) else {
                throw CLIFailure("--format is one of \(WebhookFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            if let setAudience, let problem = SecurityEventAudience.problem(setAudience) {
                throw CLIFailure(problem.replacingOccurrences(of: "'set_audience'", with: "--set-audience"))
            }
            // The policy `roster serve` applies, from the same environment variable.
            guard url.unicodeScalars.count <= WebhookURLPolicy.maximumLength else {
                throw CLIFailure("--url must be at most \(WebhookURLPolicy.maximumLength) characters.")
            }
            if let refusal = try await webhookSettings().webhooks.urlPolicy.refusal(creating: url) {
                let hint = refusal.operatorMayAllow ? " ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS=true allows it." : ""
                throw CLIFailure(WebhookURLPolicy.message(refusal, subject: "--url") + hint)
            }
            let types = try parseEventTypes(eventTypes)
            let secrets = try commandSecrets()
            let (tenantName, subscription, secret) = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning), secrets: secrets) { db in
                let tenant = try await resolveTenant(tenant, db)
                let (subscription, secret) = try await WebhookSubscriptions(database: db).create(
                    tenant: tenant.id, url: url, eventTypes: types, description: description, format: format, setAudience: setAudience, by: .system)
                return (tenant.name, subscription, secret)
            }
            say("Webhook subscription \(subscription.id.uuidString.lowercased()) for tenant \(tenantName): \(subscription.url)")
            say("Signing secret (shown once; store it now):")
            say(secret.text)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's webhook subscriptions (never their secrets).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName

        func run() async throws {
            let subscriptions = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await WebhookSubscriptions(database: db).list(tenant: resolveTenant(tenant, db).id)
            }
            for subscription in subscriptions {
                let state =
                    !subscription.enabled ? "disabled" + (subscription.disabledReason.map { " (\($0))" } ?? "")
                    : subscription.pausedAt != nil ? "paused" : "enabled"
                let types = subscription.eventTypes?.map(\.rawValue).joined(separator: ",") ?? "all"
                say(
                    "\(subscription.id.uuidString.lowercased())  \(state)  \(subscription.format.rawValue)  position \(subscription.position)  [\(types)]  \(subscription.url)  \(subscription.description)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a subscription a new signing secret, printed once; the previous one keeps signing for ROSTER_WEBHOOK_SECRET_OVERLAP_SECONDS (a day by default).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName
        @Argument(help: "Subscription id (from `roster webhook list`).") var id: String

        func run() async throws {
            let subscriptionID = try parseID(id)
            let overlap = try webhookSettings().webhookSecretOverlap
            let secrets = try commandSecrets()
            let rotated = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning), secrets: secrets) { db in
                try await WebhookSubscriptions(database: db).rotateSecret(
                    tenant: resolveTenant(tenant, db).id, id: subscriptionID, overlap: overlap, by: .system)
            }
            guard let (subscription, secret) = rotated else { throw CLIFailure("No webhook subscription \(id) in tenant \(tenant).") }
            say("New signing secret (shown once; store it now):")
            say(secret.text)
            if let until = subscription.previousSecretUntil {
                say("The previous secret keeps signing beside it until \(until.formatted(.iso8601)).")
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a subscription's events again, in order, from an event on, or only one event or a range (it also resumes a paused subscription).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName
        @Argument(help: "Subscription id (from `roster webhook list`).") var id: String
        @Option(help: "The first event to send again (an event id from GET /api/v1/events).") var from: String
        @Option(help: ArgumentHelp(
            "The last event to send again (inclusive; the --from event for only that one); then the subscription carries on from where it was.",
            valueName: "event-id"))
        var through: String?

        func run() async throws {
            let subscriptionID = try parseID(id)
            guard let eventID = UUID(uuidString: from) else { throw ValidationError("'\(from)' is not an event id.") }
            let throughID = try through.map { text in
                guard let id = UUID(uuidString: text) else { throw ValidationError("'\(text)' is not an event id.") }
                return id
            }
            let outcome = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                let subscriptions = WebhookSubscriptions(database: db)
                let tenantID = try await resolveTenant(tenant, db).id
                return try await subscriptions.replay(tenant: tenantID, id: subscriptionID, from: eventID, through: throughID, by: .system)
            }
            switch outcome {
            case .replayed(let replayed):
                let disabled = replayed.enabled ? "" : "; it is disabled until enabled"
                if let replay = replayed.replay {
                    let events = throughID == eventID ? "event \(from)" : "events \(from) through \(through ?? from)"
                    say("Subscription \(id) sends \(events) again (position \(replayed.position), through sequence \(replay.through)), "
                        + "then carries on after sequence \(max(replay.resume, replay.through))\(disabled).")
                } else {
                    say("Subscription \(id) sends again from event \(from) (position \(replayed.position))\(disabled).")
                }
            case .noSuchSubscription:
                throw CLIFailure("No webhook subscription \(id) in tenant \(tenant).")
            case .noSuchEvent(let missing):
                throw CLIFailure("No event \(missing.uuidString.lowercased()) in tenant \(tenant).")
            case .reversed(let start, let end):
                throw CLIFailure("--through (sequence \(end)) comes before --from (sequence \(start)) in the tenant's feed.")
            }
        }
    }

    struct Deliveries: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a subscription's latest delivery attempts, latest first.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName
        @Option(help: "At most this many attempts.") var limit = 20
        @Argument(help: "Subscription id (from `roster webhook list`).") var id: String

        func run() async throws {
            let subscriptionID = try parseID(id)
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000.") }
            let attempts = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                let subscriptions = WebhookSubscriptions(database: db)
                let tenantID = try await resolveTenant(tenant, db).id
                guard try await subscriptions.get(tenant: tenantID, id: subscriptionID) != nil else {
                    throw CLIFailure("No webhook subscription \(id) in tenant \(tenant).")
                }
                return try await subscriptions.deliveries(tenant: tenantID, subscription: subscriptionID, limit: limit)
            }
            if attempts.isEmpty { say("No delivery attempts yet.") }
            for attempt in attempts {
                var line = "\(attempt.attemptedAt.formatted(.iso8601))  event \(attempt.eventSequence.map(String.init) ?? "test") "
                line += "\(attempt.eventID.uuidString.lowercased())  attempt \(attempt.attempt)  \(attempt.outcome.rawValue)  "
                line += "\(attempt.statusCode.map(String.init) ?? "-")  \(attempt.latencyMilliseconds) ms"
                if let next = attempt.nextRetryAt { line += "  next retry \(next.formatted(.iso8601))" }
                if let error = attempt.error { line += "  \(error)" }
                say(line)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a subscription and its delivery log; nothing more is sent to it.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName
        @Argument(help: "Subscription id (from `roster webhook list`).") var id: String

        func run() async throws {
            let subscriptionID = try parseID(id)
            let deleted = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await WebhookSubscriptions(database: db).delete(tenant: resolveTenant(tenant, db).id, id: subscriptionID, by: .system)
            }
            guard deleted else { throw CLIFailure("No webhook subscription \(id) in tenant \(tenant).") }
            say("Deleted webhook subscription \(id).")
        }
    }
}

/// The webhook settings `roster serve` reads, from the same environment variables.
private func webhookSettings() throws -> RosterConfiguration {
    do {
        return try RosterConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider()))
    } catch {
        throw CLIFailure(error.description)
    }
}

private func parseID(_ text: String) throws -> UUID {
    guard let id = UUID(uuidString: text) else { throw ValidationError("'\(text)' is not a subscription id.") }
    return id
}

/// nil (every type) when none are given.
private func parseEventTypes(_ names: [String]) throws -> [EventType]? {
    guard !names.isEmpty else { return nil }
    let types = try names.map { name in
        guard let type = EventType(rawValue: name) else {
            throw ValidationError("Unknown event type '\(name)'; use \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return type
    }
    return EventType.allCases.filter(types.contains)
}
