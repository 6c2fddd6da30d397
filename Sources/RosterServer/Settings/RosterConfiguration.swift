public import Configuration
import Foundation
public import Logging
public import RosterAuth
public import RosterFeed
public import RosterStore

/// Everything `roster serve` reads, in one place: flags over `ROSTER_*` environment variables over defaults.
public struct RosterConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var databaseURL: String?
    /// Absolute URL clients reach this server at; `meta.location` and `$ref` values are built from it.
    public var publicURL: String
    /// The bootstrap admin key (`ROSTER_ADMIN_KEY`), if configured.
    public var adminKey: BootstrapAdminKey?
    /// Extra schema documents (custom extensions) beside the built-in User, Group and EnterpriseUser.
    public var schemasDirectory: String?
    public var logLevel: Logger.Level
    /// `text` (swift-log's default lines) or `json` (one object per line, for log shippers).
    public var logFormat: LogFormat
    public var databaseMaxConnections: Int
    /// What is in front of PostgreSQL (`ROSTER_DATABASE_POOL_MODE`: direct, or a PgBouncer pool's session or transaction mode).
    public var databasePoolMode: DatabasePoolMode = .direct
    /// Where connections that need a session go behind a transaction-mode pooler (`ROSTER_DATABASE_SESSION_URL`).
    public var databaseSessionURL: String?
    /// `/api/health` says `degraded` when a trivial query takes longer than this.
    public var healthLatencyBudgetMilliseconds: Int
    /// How long `/api/health`, and a `/metrics` scrape counting the pool's sessions, wait for the database.
    public var healthTimeoutMilliseconds: Int = 3000
    /// Collect Prometheus metrics and serve them at `/metrics` (`ROSTER_METRICS=false` turns both off).
    public var metricsEnabled: Bool
    /// Run the webhook dispatcher in this process (`ROSTER_WEBHOOKS=false` leaves delivery to other replicas).
    public var webhooksEnabled = true
    /// Webhook delivery: timeout, retry schedule, lease, poll interval, concurrency, URL policy.
    public var webhooks = DispatcherConfiguration()
    /// Events and webhook delivery attempts older than this are dropped, a time partition at a time (`ROSTER_EVENT_RETENTION_DAYS`, 30).
    public var eventRetention: Duration = .seconds(30 * 86_400)
    /// What a tenant's SCIM clients sent, kept this long and at most this many rows per tenant
    /// (`ROSTER_PROVISIONING_LOG_RETENTION_DAYS`, 7; `ROSTER_PROVISIONING_LOG_MAX_ROWS`, 10 000).
    public var provisioningLog = ProvisioningLogConfiguration()
    /// How long a rotated-out webhook secret keeps signing beside the new one (`ROSTER_WEBHOOK_SECRET_OVERLAP_SECONDS`).
    public var webhookSecretOverlap: Duration = .seconds(86_400)
    /// Default rate limits per SCIM token and admin key (`ROSTER_RATE_LIMIT_SCIM`, `ROSTER_RATE_LIMIT_ADMIN`) and how often overrides are re-read.
    public var rateLimits = RateLimitDefaults()
    /// Admin sign-in: session lifetimes, password cost, login throttling, directory roles.
    public var identity = AdminIdentityConfiguration()
    /// Statement time limits, each tenant's share of the pool, member rows per group list page.
    public var limits = WorkLimits()
    /// How often each process re-reads the runtime settings (`ROSTER_SETTINGS_REFRESH_MS`, 2000): another replica's PUT /api/v1/config applies here within it.
    public var settingsRefreshInterval: Duration = .seconds(2)
    /// How secrets Roster must use are stored: sealed with `ROSTER_SECRET_KEY` / `ROSTER_SECRET_KEY_FILE`, in plaintext
    /// (`ROSTER_ALLOW_PLAINTEXT_SECRETS=true`), or unconfigured, which `serve` refuses.
    public var secrets: SecretsAtRest = .unconfigured
    /// Idle, header-read and body-read timeouts and the connection cap (`ROSTER_HTTP_*`).
    public var http = HTTPLimits()

    public init(
        host: String = "127.0.0.1", port: Int = 8080, databaseURL: String? = nil, publicURL: String? = nil,
        adminKey: BootstrapAdminKey? = nil, schemasDirectory: String? = nil, logLevel: Logger.Level = .info, logFormat: LogFormat = .text,
        databaseMaxConnections: Int = 16, metricsEnabled: Bool = true, healthLatencyBudgetMilliseconds: Int = 500
    ) {
        self.host = host
        self.port = port
        self.databaseURL = databaseURL
        self.publicURL = Self.trimmed(publicURL ?? "http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(port)")
        self.adminKey = adminKey
        self.schemasDirectory = schemasDirectory
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.databaseMaxConnections = databaseMaxConnections
        self.metricsEnabled = metricsEnabled
        self.healthLatencyBudgetMilliseconds = healthLatencyBudgetMilliseconds
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads `roster.*` keys: from the environment these are `ROSTER_HOST`, `ROSTER_PORT`,
    /// `ROSTER_DATABASE_URL`, `ROSTER_PUBLIC_URL`, `ROSTER_ADMIN_KEY`, `ROSTER_SCHEMAS_DIR`,
    /// `ROSTER_LOG_LEVEL`, `ROSTER_DATABASE_MAX_CONNECTIONS`, `ROSTER_DATABASE_POOL_MODE`, `ROSTER_DATABASE_SESSION_URL`,
    /// `ROSTER_METRICS`, `ROSTER_LOG_FORMAT`, `ROSTER_HEALTH_LATENCY_BUDGET_MS`,
    /// `ROSTER_WEBHOOKS`, the `ROSTER_WEBHOOK_*`, `ROSTER_RATE_LIMIT_*` and `ROSTER_HTTP_*` settings docs/operators/configuration.md lists and `ROSTER_SETTINGS_REFRESH_MS`.
    public init(reader: ConfigReader) throws(Invalid) {
        let config = reader.scoped(to: "roster")
        var adminKey: BootstrapAdminKey?
        if let key = config.string(forKey: "admin.key", isSecret: true), !key.isEmpty {
            guard let bootstrap = BootstrapAdminKey(key) else {
                throw Invalid(description: "ROSTER_ADMIN_KEY must be at least \(BootstrapAdminKey.minimumLength) characters; generate one with `roster admin-key generate` or `openssl rand -base64 32`.")
            }
            adminKey = bootstrap
        }
        let level = config.string(forKey: "log.level") ?? "info"
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw Invalid(description: "ROSTER_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical.")
        }
        guard let logFormat = LogFormat(rawValue: (config.string(forKey: "log.format") ?? "text").lowercased()) else {
            throw Invalid(description: "ROSTER_LOG_FORMAT must be text or json.")
        }
        self.init(
            host: config.string(forKey: "host") ?? "127.0.0.1",
            port: config.int(forKey: "port") ?? 8080,
            databaseURL: config.string(forKey: "database.url", isSecret: true),
            publicURL: config.string(forKey: "public.url"),
            adminKey: adminKey,
            schemasDirectory: config.string(forKey: "schemas.dir"),
            logLevel: logLevel,
            logFormat: logFormat,
            databaseMaxConnections: config.int(forKey: "database.max.connections") ?? 16,
            metricsEnabled: config.bool(forKey: "metrics") ?? true,
            healthLatencyBudgetMilliseconds: config.int(forKey: "health.latency.budget.ms") ?? 500)
        healthTimeoutMilliseconds = config.int(forKey: "health.timeout.ms") ?? 3000
        if let text = config.string(forKey: "database.pool.mode") {
            do {
                databasePoolMode = try DatabasePoolMode(parsing: text)
            } catch {
                throw Invalid(description: error.description)
            }
        }
        databaseSessionURL = config.string(forKey: "database.session.url", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        _ = try databaseRoute()
        webhooksEnabled = config.bool(forKey: "webhooks") ?? true
        if let seconds = config.int(forKey: "webhook.timeout.seconds") {
            guard seconds > 0 else { throw Invalid(description: "ROSTER_WEBHOOK_TIMEOUT_SECONDS must be a positive number of seconds.") }
            webhooks.timeout = .seconds(seconds)
        }
        if let text = config.string(forKey: "webhook.retry.schedule") {
            guard let schedule = RetrySchedule(seconds: text) else {
                throw Invalid(description: "ROSTER_WEBHOOK_RETRY_SCHEDULE must list delays in seconds, e.g. 0,5,300,1800,7200,18000,36000,36000.")
            }
            webhooks.schedule = schedule
        }
        if let seconds = config.int(forKey: "webhook.lease.seconds") {
            guard seconds >= 5 else { throw Invalid(description: "ROSTER_WEBHOOK_LEASE_SECONDS must be at least 5.") }
            webhooks.lease = .seconds(seconds)
        }
        // The dispatcher's liveness lock and LISTEN keep one pooled connection for as long as the process runs (behind a
        // transaction-mode pooler they go to ROSTER_DATABASE_SESSION_URL instead): a pool of one would have none left.
        let fewest = webhooksEnabled && databasePoolMode != .transaction ? 2 : 1
        guard databaseMaxConnections >= fewest else {
            throw Invalid(description: fewest == 2
                ? "ROSTER_DATABASE_MAX_CONNECTIONS must be at least 2 while webhooks are on: the dispatcher keeps one connection for its liveness lock and LISTEN."
                : "ROSTER_DATABASE_MAX_CONNECTIONS must be at least 1.")
        }
        // An attempt that outlasts its lease lets another replica claim the subscription while it is in flight: two senders
        // at once, and the receiver would see its events out of order.
        guard webhooks.timeout < webhooks.lease else {
            throw Invalid(description: """
                ROSTER_WEBHOOK_TIMEOUT_SECONDS (\(webhooks.timeout.components.seconds)) must be shorter than ROSTER_WEBHOOK_LEASE_SECONDS \
                (\(webhooks.lease.components.seconds)): an attempt that outlasts its lease would let another replica send the same \
                subscription's next events at the same time.
                """)
        }
        if let milliseconds = config.int(forKey: "webhook.poll.ms") {
            guard milliseconds >= 10 else { throw Invalid(description: "ROSTER_WEBHOOK_POLL_MS must be at least 10.") }
            webhooks.pollInterval = .milliseconds(milliseconds)
        }
        if let workers = config.int(forKey: "webhook.tenant.concurrency") {
            // At most every worker: a cap above `concurrency` would mean nothing.
            guard (1...webhooks.concurrency).contains(workers) else {
                throw Invalid(description: "ROSTER_WEBHOOK_TENANT_CONCURRENCY must be 1…\(webhooks.concurrency) (a quarter of the \(webhooks.concurrency) workers, \(webhooks.tenantLimit), by default).")
            }
            webhooks.perTenantConcurrency = workers
        }
        webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: config.bool(forKey: "webhook.allow.private.urls") ?? false)
        if let days = config.int(forKey: "event.retention.days") {
            guard days >= 1 else { throw Invalid(description: "ROSTER_EVENT_RETENTION_DAYS must be at least 1.") }
            eventRetention = .seconds(days * 86_400)
        }
        if let days = config.int(forKey: "provisioning.log.retention.days") {
            guard (1...365).contains(days) else { throw Invalid(description: "ROSTER_PROVISIONING_LOG_RETENTION_DAYS must be 1…365 (7 by default).") }
            provisioningLog.retention = .seconds(days * 86_400)
        }
        if let rows = config.int(forKey: "provisioning.log.max.rows") {
            guard (100...1_000_000).contains(rows) else {
                throw Invalid(description: "ROSTER_PROVISIONING_LOG_MAX_ROWS must be 100…1000000 (10000 by default).")
            }
            provisioningLog.maxRowsPerTenant = rows
        }
        if let seconds = config.int(forKey: "webhook.secret.overlap.seconds") {
            guard seconds >= 0 else { throw Invalid(description: "ROSTER_WEBHOOK_SECRET_OVERLAP_SECONDS must be 0 or more (86400, a day, by default).") }
            webhookSecretOverlap = .seconds(seconds)
        }
        if let milliseconds = config.int(forKey: "settings.refresh.ms") {
            guard (10...60_000).contains(milliseconds) else { throw Invalid(description: "ROSTER_SETTINGS_REFRESH_MS must be 10…60000 (2000 by default).") }
            settingsRefreshInterval = .milliseconds(milliseconds)
        }
        identity = try AdminIdentityConfiguration(reader: config)
        limits = try WorkLimits(reader: config)
        secrets = try Self.secretsAtRest(config)
        http = try HTTPLimits(reader: config)
        if let text = config.string(forKey: "rate.limit.scim") { rateLimits.scim = try Self.rateLimit(text, variable: "ROSTER_RATE_LIMIT_SCIM") }
        if let text = config.string(forKey: "rate.limit.admin") { rateLimits.admin = try Self.rateLimit(text, variable: "ROSTER_RATE_LIMIT_ADMIN") }
        if let milliseconds = config.int(forKey: "rate.limit.refresh.ms") {
            guard milliseconds >= 10 else { throw Invalid(description: "ROSTER_RATE_LIMIT_REFRESH_MS must be at least 10.") }
            rateLimits.refreshInterval = .milliseconds(milliseconds)
        }
    }

    /// `ROSTER_SECRET_KEY` or `ROSTER_SECRET_KEY_FILE` (not both: which one wins would be a guess), else the explicit opt-out.
    static func secretsAtRest(_ config: ConfigReader) throws(Invalid) -> SecretsAtRest {
        let inline = config.string(forKey: "secret.key", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        let file = config.string(forKey: "secret.key.file").flatMap { $0.isEmpty ? nil : $0 }
        var text = ""
        var source = "ROSTER_SECRET_KEY"
        switch (inline, file) {
        case (_?, _?):
            throw Invalid(description: "Set ROSTER_SECRET_KEY or ROSTER_SECRET_KEY_FILE, not both.")
        case (let key?, nil):
            text = key
        case (nil, let path?):
            guard let contents = FileManager.default.contents(atPath: path), let decoded = String(data: contents, encoding: .utf8) else {
                throw Invalid(description: "ROSTER_SECRET_KEY_FILE names '\(path)', which cannot be read as text.")
            }
            text = decoded
            source = "ROSTER_SECRET_KEY_FILE"
        case (nil, nil):
            return config.bool(forKey: "allow.plaintext.secrets") == true ? .plaintext : .unconfigured
        }
        do {
            return .encrypted(try SecretKeyring(parsing: text, source: source))
        } catch {
            throw Invalid(description: String(describing: error))
        }
    }

    /// `off`, or `<requests>/<seconds>s`.
    private static func rateLimit(_ text: String, variable: String) throws(Invalid) -> RateLimitPolicy? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.lowercased() == "off" { return nil }
        guard let policy = RateLimitPolicy(text) else {
            throw Invalid(description: "\(variable) must be off or <requests>/<seconds>s with 1…1000000 requests and 1…86400 seconds, e.g. 3000/60s.")
        }
        return policy
    }

    public var scimBaseURL: String { publicURL + "/scim/v2" }

    /// The pool mode and the session URL, checked together: a session URL is for transaction mode, which needs one.
    public func databaseRoute() throws(Invalid) -> DatabaseRoute {
        guard let text = databaseSessionURL else {
            guard databasePoolMode != .transaction else {
                throw Invalid(description: """
                    ROSTER_DATABASE_POOL_MODE=transaction needs ROSTER_DATABASE_SESSION_URL: the webhook dispatcher holds a \
                    session-level lock and LISTENs, and the SCIM token cache LISTENs, which no connection of a transaction-mode \
                    pooler keeps. Set it to PostgreSQL itself (or a session-mode pool of the same database).
                    """)
            }
            return DatabaseRoute(mode: databasePoolMode, sessionURL: nil)
        }
        guard databasePoolMode == .transaction else {
            throw Invalid(description: """
                ROSTER_DATABASE_SESSION_URL is for ROSTER_DATABASE_POOL_MODE=transaction, where pooled connections keep no session; \
                with \(databasePoolMode.rawValue) they keep theirs, and LISTEN uses ROSTER_DATABASE_URL. Unset one of them.
                """)
        }
        let url: DatabaseURL
        do {
            url = try DatabaseURL(text)
        } catch {
            throw Invalid(description: "ROSTER_DATABASE_SESSION_URL: \(error.description)")
        }
        guard url.hosts.count == 1 else {
            throw Invalid(description: """
                ROSTER_DATABASE_SESSION_URL names one host: the primary's address (a name or virtual IP that follows it after a \
                failover); its sessions are not routed among several hosts as ROSTER_DATABASE_URL's are.
                """)
        }
        return DatabaseRoute(mode: databasePoolMode, sessionURL: url)
    }

    private static func trimmed(_ url: String) -> String {
        url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}

public enum LogFormat: String, Sendable, CaseIterable {
    case text, json

    /// Installs the process's log handler; call once, before the first `Logger` is made.
    public func bootstrap() {
        switch self {
        case .text: LoggingSystem.bootstrap(TextLogHandler.init)
        case .json: LoggingSystem.bootstrap(JSONLogHandler.init)
        }
    }
}

/// The provisioning log's bounds.
public struct ProvisioningLogConfiguration: Sendable, Equatable {
    public var retention: Duration = .seconds(7 * 86_400)
    public var maxRowsPerTenant = 10_000

    public init() {}
}
