public import Foundation
public import Logging
public import Metrics
public import RosterStore
import SCIM
public import ServiceLifecycle

/// How the dispatcher delivers.
public struct DispatcherConfiguration: Sendable {
    public var schedule = RetrySchedule.standard
    /// A delivery succeeds only with a 2xx answer within this time.
    public var timeout: Duration = .seconds(15)
    /// How long a process holds a subscription without renewing it; when it dies, another
    /// process takes the subscription over after at most this long.
    public var lease: Duration = .seconds(30)
    /// How often to look for due work when no notification arrives (a lost one delays, never loses).
    public var pollInterval: Duration = .seconds(2)
    /// Subscriptions delivered at once by this process.
    public var concurrency = 16
    /// Subscriptions of one tenant delivered at once by this process; nil: a quarter of `concurrency`.
    /// One tenant's slow or hanging receivers hold at most this many workers; the rest stay free for other tenants.
    public var perTenantConcurrency: Int?
    public var urlPolicy = WebhookURLPolicy(allowPrivate: false)
    /// Signs the Security Event Tokens of subscriptions in that format; nil: their attempts fail (and are retried).
    public var securityEvents: SecurityEventSigner?

    public init() {}

    /// The per-tenant cap in force: at least 1, at most `concurrency`.
    public var tenantLimit: Int { min(concurrency, max(1, perTenantConcurrency ?? concurrency / 4)) }
}

/// Delivers each subscription's events in order, at least once, signed (Standard Webhooks).
///
/// Every `roster serve` runs one. A subscription is worked on by the process that holds its lease
/// (a row lease: `lease_owner`, `lease_until`, taken with `FOR UPDATE SKIP LOCKED`); its next event
/// is sent only once the previous one succeeded or was given up, and `position` moves after each,
/// so a process killed mid-delivery leaves at most its in-flight event to be sent again.
public struct WebhookDispatcher: Service {
    let database: RosterDatabase
    let configuration: DispatcherConfiguration
    let logger: Logger
    /// This process's leases (its owner id is this process's).
    let leases: WebhookLeases
    let sender: WebhookSender
    /// The retry schedule of the next failed attempt, read at each one: the runtime settings may change it.
    let schedule: @Sendable () -> RetrySchedule

    /// `roster_webhook_deliveries_total{outcome}` and `roster_webhook_delivery_duration_seconds`; nil without metrics.
    let deliveries: [WebhookDelivery.Outcome: (Counter, Timer)]?

    /// - Parameter schedule: the current retry schedule; nil: always `configuration.schedule`.
    public init(
        database: RosterDatabase, configuration: DispatcherConfiguration, logger: Logger, metrics: (any MetricsFactory)? = nil,
        schedule: (@Sendable () -> RetrySchedule)? = nil
    ) {
        self.database = database
        self.leases = WebhookLeases(database: database, owner: UUID())
        self.configuration = configuration
        self.logger = logger
        self.schedule = schedule ?? { [fixed = configuration.schedule] in fixed }
        deliveries = metrics.map { factory in
            Dictionary(uniqueKeysWithValues: [WebhookDelivery.Outcome.succeeded, .retrying, .failed, .disabled].map { outcome in
                (outcome, (
                    Counter(label: "roster_webhook_deliveries_total", dimensions: [("outcome", outcome.rawValue)], factory: factory),
                    Timer(label: "roster_webhook_delivery_duration_seconds", dimensions: [("outcome", outcome.rawValue)], factory: factory)
                ))
            })
        }
        sender = WebhookSender(timeout: configuration.timeout, policy: configuration.urlPolicy)
    }

    public func run() async throws {
        // Wakes: every stamp of any process (LISTEN), every finished worker, and a poll tick.
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let live = Liveness()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await listen(wake, live: live) }
            // Events are numbered after their commit (EventLog.stamp): right after this process's own commits,
            // and at every tick for those of a process that died before it could.
            group.addTask {
                for await _ in database.eventSignal.commits() { await stamp(wake) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.pollInterval)
                    await stamp(wake)
                    wake.yield()
                }
            }
            group.addTask {
                await withGracefulShutdownHandler {
                    await dispatch(wakes: wakes, wake: wake, live: live)
                } onGracefulShutdown: {
                    wake.finish()
                }
            }
            await group.next()
            group.cancelAll()
        }
        await releaseLeases()
    }

    /// Numbers the committed events still without a number, of every tenant. The stamp NOTIFYs every
    /// process; this one is woken directly too, should its LISTEN be down.
    private func stamp(_ wake: AsyncStream<Void>.Continuation) async {
        do {
            if try await !EventLog(database: database).stamp().isEmpty { wake.yield() }
        } catch {
            if Task.isCancelled { return }
            logger.warning("Webhook dispatcher: could not number new events", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
    }

    /// Holds this process's liveness lock (which binds its leases to its database session) and wakes the loop on
    /// every stamp of new events (LISTEN, on the same session); takes both again if the session drops. While the lock
    /// is not held, `live` is false and nothing is claimed: other processes may take this one's leases then.
    private func listen(_ wake: AsyncStream<Void>.Continuation, live: Liveness) async {
        while !Task.isCancelled {
            do {
                try await leases.holdLiveness(stamped: { wake.yield() }, held: {
                    live.held = true
                    wake.yield()
                })
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "Webhook dispatcher: its database session ended; claiming nothing until it is back",
                    metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            live.held = false
            try? await Task.sleep(for: configuration.pollInterval)
        }
    }

    /// Claims due subscriptions and works each in its own task, until shutdown.
    private func dispatch(wakes: AsyncStream<Void>, wake: AsyncStream<Void>.Continuation, live: Liveness) async {
        let workers = WorkerTally()
        await withDiscardingTaskGroup { group in
            for await _ in wakes where live.held {
                let busy = workers.byTenant
                let free = configuration.concurrency - busy.values.reduce(0, +)
                guard free > 0 else { continue }
                let claimed: [Claimed]
                do {
                    claimed = try await claim(limit: free, busy: busy, working: workers.subscriptions)
                } catch {
                    logger.warning("Webhook dispatcher: could not claim work", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                    continue
                }
                for subscription in claimed {
                    workers.started(subscription)
                    group.addTask {
                        await work(subscription)
                        workers.finished(subscription)
                        wake.yield()
                    }
                }
            }
        }
    }

    // MARK: Leases

    /// Takes the lease of up to `limit` subscriptions that have an event due, none of a tenant beyond
    /// `configuration.tenantLimit` workers (`busy`: this process's workers per tenant now).
    /// `working`: the subscriptions this process's workers have now; its other leases were left by workers that failed.
    func claim(limit: Int, busy: [UUID: Int], working: Set<UUID>? = nil) async throws -> [Claimed] {
        try await leases.claim(
            limit: limit, busy: busy, working: working, tenantLimit: configuration.tenantLimit, lease: configuration.lease, logger: logger)
    }

    /// On shutdown, hands this process's subscriptions back at once instead of after the lease time.
    func releaseLeases() async {
        await leases.releaseAll()
    }

    // MARK: Delivery

    /// Sends the subscription's due events in order until it has none, one fails, or the lease is lost.
    func work(_ claimed: Claimed) async {
        var subscription = claimed
        do {
            var first = true
            while !Task.isCancelled {
                // An admin may have changed the URL, the types or the secret, or disabled it, meanwhile.
                if !first {
                    guard let current = try await leases.refreshed(subscription) else { break }
                    subscription = current
                }
                first = false
                // During a range replay, only as far as its end: what lies after it, up to where it resumes, was sent.
                let range = subscription.replay
                let events = try await EventLog(database: database).read(
                    tenant: subscription.tenant,
                    .init(after: subscription.position, through: range?.through, limit: 100, types: subscription.types),
                    stampFirst: false)
                if events.isEmpty {
                    // A range none of whose remaining events are of the subscription's types ends here.
                    guard range != nil, let moved = try await leases.finishReplay(of: subscription, lease: configuration.lease) else { break }
                    subscription.position = moved.position
                    subscription.replay = moved.replay
                    continue
                }
                var going = true
                for event in events {
                    going = try await deliver(event, to: &subscription)
                    // A range replay ended (position jumped on to where it resumes) or changed: read on from the new position.
                    if !going || subscription.position != event.sequence || subscription.replay != range { break }
                }
                if !going { break }
            }
            // Hands the lease back, unless the last attempt's statement already did: then this process may have
            // claimed the subscription again meanwhile, and a release by owner would free that new worker's lease.
            if subscription.holdsLease { try await leases.release(subscription) }
        } catch {
            logger.error(
                "Webhook dispatcher: a subscription's work failed; its lease will lapse and it is retried",
                metadata: ["subscription": "\(claimed.id)", "error": "\(String(reflecting: type(of: error)))"])
        }
    }

    /// One event, one attempt; records it and moves the subscription on. False: stop working this subscription.
    func deliver(_ event: ChangeEvent, to subscription: inout Claimed) async throws -> Bool {
        let attempt = subscription.attempts + 1
        let result = await send(event, to: subscription)
        let failures = attempt
        var delivery = WebhookDelivery(
            eventSequence: event.sequence, eventID: event.id, attempt: attempt, statusCode: result.status, outcome: .failed,
            error: result.error, latencyMilliseconds: result.milliseconds, nextRetryAt: nil)
        var delay = Duration.zero
        if result.succeeded {
            delivery.outcome = .succeeded
        } else if result.status == 410 {
            delivery.outcome = .disabled
        } else if let scheduled = schedule().delay(afterFailures: failures) {
            delay = scheduled
            if let retryAfter = result.retryAfter, retryAfter > delay { delay = min(retryAfter, .seconds(86_400)) }
            delivery.outcome = .retrying
            delivery.nextRetryAt = Date().addingTimeInterval(Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        } else {
            // The schedule is spent: the event is marked failed and the subscription pauses on it
            // until it is resumed (retrying this event) or replayed.
            delivery.outcome = .failed
        }
        if let (count, duration) = deliveries?[delivery.outcome] {
            count.increment()
            duration.recordMilliseconds(result.milliseconds)
        }
        let succeeded = delivery.outcome == .succeeded
        let moved = try await leases.record(delivery, of: subscription, delay: delay, lease: configuration.lease)
        // A failed attempt's statement handed the lease back. No row: disabled, paused or replayed meanwhile (the lease
        // is still this worker's, and is released as it stops; a replay's events are read again by the next claim) or
        // the lease lapsed (then the release matches nothing).
        subscription.holdsLease = succeeded || moved == nil
        guard let moved, succeeded else { return false }
        // Where the statement put it: past this event, or on to where a range replay it ended resumes.
        subscription.position = moved.position
        subscription.replay = moved.replay
        subscription.attempts = 0
        return true
    }

    /// One signed POST of the event, in the subscription's format. A SET is signed at each attempt, with the key
    /// current then, so its `kid` is in the JWKS the receiver fetches; its `jti` stays the event's id.
    func send(_ event: ChangeEvent, to subscription: Claimed) async -> WebhookAttempt {
        switch subscription.format {
        case .standardWebhooks:
            return await sender.send(
                id: event.id.uuidString.lowercased(), body: WebhookPayload.body(event), to: subscription.url, secrets: subscription.secrets)
        case .securityEventToken:
            guard let signer = configuration.securityEvents else {
                return WebhookAttempt(status: nil, error: "this process has no signing keys for Security Event Tokens", milliseconds: 0)
            }
            let token: String
            do {
                token = try await signer.token(for: event, audience: subscription.audience)
            } catch {
                return WebhookAttempt(status: nil, error: "could not sign the Security Event Token (\(String(reflecting: type(of: error))))", milliseconds: 0)
            }
            return await sender.send(securityEvent: token, to: subscription.url)
        }
    }
}

/// What one POST to a receiver came to.
public struct WebhookAttempt: Sendable {
    public var status: Int?
    public var error: String?
    public var milliseconds: Int
    public var retryAfter: Duration?

    /// Any 2xx. RFC 8935 §2.2 has a SET receiver answer 202; one that answers 200 or 204 has taken the SET all the
    /// same, and sending it again would not make it answer otherwise.
    public var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}

/// What a webhook carries: `{type, timestamp, data}` (Standard Webhooks), `data` being the event
/// as `GET /api/v1/events` shows it.
public enum WebhookPayload {
    public static func body(_ event: ChangeEvent) -> [UInt8] {
        let payload: JSONValue = [
            "type": .string(event.type.rawValue),
            "timestamp": .string(SCIMDate.format(event.occurred)),
            "data": event.json,
        ]
        return Array(payload.encoded())
    }
}

extension WebhookPayload {
    /// A test event's body: `webhook.test`, outside the feed (it has no sequence number).
    public static func test(subscription: UUID, at date: Date = Date()) -> [UInt8] {
        let payload: JSONValue = [
            "type": "webhook.test",
            "timestamp": .string(SCIMDate.format(date)),
            "data": [
                "subscription_id": .string(subscription.uuidString.lowercased()),
                "message": "A test event from Roster: your endpoint received and can verify its webhooks.",
            ],
        ]
        return Array(payload.encoded())
    }
}

extension WebhookDispatcher: CustomStringConvertible {
    /// ServiceLifecycle logs services by their description: a name, not every stored property.
    public var description: String { "WebhookDispatcher" }
}
