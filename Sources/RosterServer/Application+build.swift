import Foundation
public import Hummingbird
public import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import RosterAuth
import RosterFeed
import RosterStore
import ServiceLifecycle
import SCIM

/// Builds the Roster application: the HTTP server plus the PostgreSQL client it runs as a service.
/// `onServerRunning` runs once the port is listening (so `roster dev` prints its banner only when requests can succeed).
public func buildApplication(
    _ configuration: RosterConfiguration, logger: Logger, onServerRunning: @escaping @Sendable () async -> Void = {}
) throws -> some ApplicationProtocol {
    guard let databaseURL = configuration.databaseURL else {
        throw RosterConfiguration.Invalid(description: "No database configured: set ROSTER_DATABASE_URL or pass --database-url.")
    }
    if case .unconfigured = configuration.secrets {
        throw RosterConfiguration.Invalid(description: SecretsAtRest.keyRequired)
    }
    let url = try DatabaseURL(databaseURL)
    let route = try configuration.databaseRoute()
    let pool = ConnectionPoolIdentity(maxConnections: configuration.databaseMaxConnections)
    let registry = try SchemaDocuments.registry(extraDirectory: configuration.schemasDirectory)
    let metrics = configuration.metricsEnabled ? RosterMetrics() : nil
    let database = RosterDatabase(
        url: url, pool: pool, statementTimeout: configuration.limits.scimStatementTimeout, secrets: configuration.secrets,
        metrics: metrics?.factory, logger: logger, route: route)
    let settings = try RuntimeSettingsHolder(
        baseline: SettingsBaseline(configuration, logger: logger), repository: RuntimeSettingsRepository(database: database))
    let rateLimits = RateLimits(
        defaults: { settings.current.rateLimitDefaults }, refreshInterval: configuration.rateLimits.refreshInterval,
        source: RateLimitRepository(database: database))
    let tokenCache = ScimTokenCache()
    let provisioning = ProvisioningRecorder()
    let router = try buildRouter(
        database: database, registry: registry, migrator: Migrator(migrations: try Migration.bundled()), configuration: configuration,
        metrics: metrics, rateLimits: rateLimits, settings: settings, tokenCache: tokenCache, provisioning: provisioning)
    var services: [any Service] = [
        DatabaseService(database: database),
        ScimTokenCacheService(
            cache: tokenCache, tokens: ScimTokenRepository(database: database),
            endpoint: ListenEndpoint(url: url, database: database, applicationName: pool.applicationName + "-listen"), logger: logger),
        FeedRetention(database: database, retention: configuration.eventRetention, logger: logger),
        ProvisioningLogService(
            recorder: provisioning, log: ProvisioningLog(database: database), retention: configuration.provisioningLog.retention,
            maxRowsPerTenant: configuration.provisioningLog.maxRowsPerTenant, logger: logger),
        RateLimitRefresher(rateLimits: rateLimits, logger: logger),
        RuntimeSettingsRefresher(holder: settings, interval: configuration.settingsRefreshInterval, logger: logger),
    ]
    if configuration.webhooksEnabled {
        var webhooks = configuration.webhooks
        webhooks.securityEvents = webhooks.securityEvents ?? SecurityEventSigner(accessTokens: accessTokenAuthority(database, configuration))
        services.append(WebhookDispatcher(
            database: database, configuration: webhooks, logger: logger, metrics: metrics?.factory,
            schedule: { settings.retrySchedule }))
    }
    // One count for the process, shared by every connection's handler on every event loop.
    let slots = ConnectionSlots(limits: configuration.http)
    return Application(
        router: router,
        server: .http1(configuration: .init(additionalChannelHandlers: [
            HeadParseErrorHandler(), RequestDeadlineHandler(limits: configuration.http), ConnectionCapHandler(slots: slots),
        ])),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Roster"),
        services: services,
        onServerRunning: { _ in await onServerRunning() },
        logger: logger)
}

/// Roster's access-token authority: its keys sign admin access tokens and Security Event Tokens, and are published at
/// `/api/v1/auth/jwks.json`. The router's and the dispatcher's each cache the keys, as two replicas would.
func accessTokenAuthority(_ database: RosterDatabase, _ configuration: RosterConfiguration) -> AccessTokenAuthority {
    AccessTokenAuthority(
        keys: SigningKeyRepository(database: database), issuer: configuration.publicURL, audience: AdminIdentityConfiguration.accessTokenAudience,
        lifetime: configuration.identity.accessTokenLifetime)
}

extension SecurityEventSigner {
    init(accessTokens: AccessTokenAuthority) {
        self.init(sign: { try await accessTokens.signSecurityEvent($0) })
    }
}

/// Before it listens: the pool's connections reach PostgreSQL as ROSTER_DATABASE_POOL_MODE says, or a refusal saying
/// what to configure (`DatabaseRoute.check`).
func checkDatabaseRoute(_ configuration: RosterConfiguration, logger: Logger) async throws {
    guard let databaseURL = configuration.databaseURL else { return }
    try await configuration.databaseRoute().check(
        url: try DatabaseURL(databaseURL), statementTimeout: configuration.limits.scimStatementTimeout, logger: logger)
}

/// The connection pool, as a service of the application: first to start, last to stop.
struct DatabaseService: Service, CustomStringConvertible {
    let database: RosterDatabase
    /// What service-lifecycle logs at start: never the fields (the pool's configuration holds the database password).
    var description: String { "DatabaseService" }

    func run() async {
        await database.run()
    }
}

func buildRouter(
    database: RosterDatabase, registry: SchemaRegistry, migrator: Migrator, configuration: RosterConfiguration,
    metrics: RosterMetrics? = nil, rateLimits: RateLimits? = nil, settings: RuntimeSettingsHolder? = nil,
    tokenCache: ScimTokenCache? = nil, provisioning: ProvisioningRecorder? = nil
) throws -> Router<RosterRequestContext> {
    let settings = try settings ?? RuntimeSettingsHolder(baseline: SettingsBaseline(configuration), repository: RuntimeSettingsRepository(database: database))
    let rateLimits = rateLimits ?? RateLimits(
        defaults: { settings.current.rateLimitDefaults }, refreshInterval: configuration.rateLimits.refreshInterval,
        source: RateLimitRepository(database: database))
    let router = Router(context: RosterRequestContext.self)
    router.add(middleware: RequestIdMiddleware())
    if let metrics { router.add(middleware: MetricsMiddleware(metrics: metrics)) }
    router.add(middleware: ErrorMiddleware())

    let scimBase = configuration.scimBaseURL
    let discovery = Discovery(registry: registry, baseURL: scimBase)
    DiscoveryController(discovery: discovery, settings: settings).addRoutes(to: router.group("scim/v2"))

    // One set of slots for both APIs: a tenant's SCIM and admin requests share its one part of the pool.
    let slots = TenantSlots(
        perTenant: configuration.limits.tenantRequests(maxConnections: configuration.databaseMaxConnections),
        maxWait: configuration.limits.scimStatementTimeout)
    let scim = router.group("scim/v2", context: ScimRequestContext.self)
        .add(middleware: ScimAuthMiddleware(
            tokens: ScimTokenRepository(database: database), bootstrapKey: configuration.adminKey, metrics: metrics, cache: tokenCache))
    if let provisioning { scim.add(middleware: ProvisioningLogMiddleware(recorder: provisioning)) }
    scim.add(middleware: RateLimitMiddleware<ScimRequestContext>(limits: rateLimits))
    scim.add(middleware: WorkLimitMiddleware<ScimRequestContext>(slots: slots, statementTimeout: configuration.limits.scimStatementTimeout))
    let cursors = CursorKeys(secrets: ServerSecrets(database: database))
    // The writes, shared by the resource routes and Bulk.
    let userWrites = ResourceWrites(backend: UserBackend(
        users: UserRepository(database: database, resourceType: registry.user), resourceType: registry.user, baseURL: scimBase))
    let groupWrites = ResourceWrites(backend: GroupBackend(
        groups: GroupRepository(database: database, resourceType: registry.group), resourceType: registry.group, baseURL: scimBase,
        memberBudget: configuration.limits.groupListMemberBudget))
    let users = ResourceController(writes: userWrites, cursors: cursors, settings: settings)
    let groups = ResourceController(writes: groupWrites, cursors: cursors, settings: settings)
    users.addRoutes(to: scim)
    groups.addRoutes(to: scim)
    SearchController(users: users, groups: groups).addRoutes(to: scim)
    BulkController(users: userWrites, groups: groupWrites, baseURL: scimBase).addRoutes(to: scim)

    HealthController(
        database: database, migrator: migrator, latencyBudget: .milliseconds(configuration.healthLatencyBudgetMilliseconds),
        timeout: .milliseconds(configuration.healthTimeoutMilliseconds), dispatcher: configuration.webhooksEnabled)
        .addRoutes(to: router.group("api"))
    let document = try APIDocument(publicURL: configuration.publicURL)
    document.addRoutes(to: router)
    try DocsController().addRoutes(to: router)
    try ConsoleController().addRoutes(to: router)

    let authenticator = AdminAuthenticator(
        keys: AdminKeyRepository(database: database), roles: RoleResolution(database: database), sessions: AdminSessions(database: database),
        bootstrapKey: configuration.adminKey, directoryMatch: configuration.identity.directoryMatch,
        cache: GrantCache(lifetime: configuration.identity.grantCacheLifetime),
        tokens: accessTokenAuthority(database, configuration),
        oidc: { settings.oidc }, oidcRights: OIDCRightsRepository(database: database))
    let setupLinks = SetupLinkRepository(database: database)
    // The document's paths are absolute (/api/v1/…), so the generated routes hang off the root.
    let authenticated = router.group(context: AdminRequestContext.self)
        .add(middleware: AdminAuthMiddleware(
            authenticator: authenticator, access: document.access, setupLinks: SetupLinkAuthentication(links: setupLinks), metrics: metrics))
    let admin = authenticated.group()
        .add(middleware: RateLimitMiddleware<AdminRequestContext>(limits: rateLimits))
        .add(middleware: WorkLimitMiddleware<AdminRequestContext>(slots: slots, statementTimeout: configuration.limits.adminStatementTimeout))
    // One handler per tag of the document, each given only what its operations use.
    let tenants = TenantRepository(database: database)
    let keys = AdminKeyRepository(database: database)
    let directory = GroupRepository(database: database, resourceType: registry.group)
    let identity = AdminIdentity(database: database, authenticator: authenticator, configuration: configuration.identity)
    let provisioningLog = ProvisioningLog(database: database)
    let api = AdminAPI(
        tenants: TenantsHandler(tenants: tenants, grantCache: identity.cache),
        scimTokens: ScimTokensHandler(tenants: tenants, tokens: ScimTokenRepository(database: database), scimBaseURL: scimBase),
        adminKeys: AdminKeysHandler(tenants: tenants, keys: keys, grantCache: identity.cache),
        directory: DirectoryHandler(tenants: tenants, groups: directory),
        feed: FeedHandler(tenants: tenants, events: EventLog(database: database)),
        webhooks: WebhooksHandler(
            tenants: tenants, webhooks: WebhookSubscriptions(database: database), webhookPolicy: configuration.webhooks.urlPolicy,
            webhookTimeout: configuration.webhooks.timeout, webhookSecretOverlap: configuration.webhookSecretOverlap,
            dispatcher: configuration.webhooksEnabled, securityEvents: SecurityEventSigner(accessTokens: authenticator.tokens)),
        audit: AuditHandler(tenants: tenants, audit: AuditLog(database: database)),
        adminUsers: AdminUsersHandler(tenants: tenants, groups: directory, identity: identity),
        auth: AuthHandler(identity: identity, keys: keys),
        rateLimits: RateLimitsHandler(
            tenants: tenants, keys: keys, rateLimits: rateLimits, rateLimitStore: RateLimitRepository(database: database)),
        config: ConfigHandler(settings: settings),
        provisioning: ProvisioningHandler(
            tenants: tenants, log: provisioningLog, links: setupLinks, setupPageURL: configuration.publicURL + "/setup"),
        setup: SetupHandler(tenants: tenants, links: setupLinks, log: provisioningLog, scimBaseURL: scimBase))
    try api.registerHandlers(
        on: admin, serverURL: URL(string: "/")!, configuration: .init(dateTranscoder: RFC3339Dates()), middlewares: [ETagMiddleware(), NoStoreMiddleware()])
    if let metrics {
        MetricsController(metrics: metrics, database: database, timeout: .milliseconds(configuration.healthTimeoutMilliseconds),
                          tokenCache: tokenCache)
            .addRoutes(to: authenticated)  // a Prometheus scrape is never rate limited
    }
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
}

/// Builds and runs the application until SIGTERM or SIGINT, then shuts it down gracefully.
public func runServer(
    _ configuration: RosterConfiguration, logger: Logger, onServerRunning: @escaping @Sendable () async -> Void = {}
) async throws {
    try await checkDatabaseRoute(configuration, logger: logger)
    try await prepareStoredSecrets(configuration, logger: logger)
    let app = try buildApplication(configuration, logger: logger, onServerRunning: onServerRunning)
    try await app.runService()
}
