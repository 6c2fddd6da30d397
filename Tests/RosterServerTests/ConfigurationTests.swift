import Configuration
import RosterFeed
import RosterServer
import RosterStore
import Testing

@Suite("Configuration from the environment")
struct ConfigurationTests {
    static func configuration(_ environment: [String: String]) throws -> RosterConfiguration {
        try RosterConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment)))
    }

    @Test("webhooks: private URLs refused and a day of secret overlap by default; ROSTER_WEBHOOK_* change both; a negative overlap is refused")
    func webhookSettings() throws {
        let defaults = try Self.configuration([:])
        #expect(defaults.webhooks.urlPolicy.allowPrivate == false)
        #expect(defaults.webhookSecretOverlap == .seconds(86_400))
        let set = try Self.configuration(["ROSTER_WEBHOOK_ALLOW_PRIVATE_URLS": "true", "ROSTER_WEBHOOK_SECRET_OVERLAP_SECONDS": "60"])
        #expect(set.webhooks.urlPolicy.allowPrivate == true)
        #expect(set.webhookSecretOverlap == .seconds(60))
        #expect(throws: RosterConfiguration.Invalid.self) { try Self.configuration(["ROSTER_WEBHOOK_SECRET_OVERLAP_SECONDS": "-1"]) }
    }

    @Test("HTTP limits: idle 60 s, header 10 s, body 30 s and 1024 connections by default; ROSTER_HTTP_* change them")
    func httpLimits() throws {
        let defaults = try Self.configuration([:]).http
        #expect(defaults.idleTimeout == .seconds(60) && defaults.headerTimeout == .seconds(10) && defaults.bodyTimeout == .seconds(30))
        #expect(defaults.maxConnections == 1024 && defaults.overflowConnections == 64)
        let set = try Self.configuration([
            "ROSTER_HTTP_IDLE_TIMEOUT_SECONDS": "5", "ROSTER_HTTP_HEADER_TIMEOUT_SECONDS": "3", "ROSTER_HTTP_BODY_TIMEOUT_SECONDS": "120",
            "ROSTER_HTTP_MAX_CONNECTIONS": "4",
        ]).http
        #expect(set.idleTimeout == .seconds(5) && set.headerTimeout == .seconds(3) && set.bodyTimeout == .seconds(120))
        #expect(set.maxConnections == 4 && set.overflowConnections == 16)
    }

    @Test("an HTTP limit of zero, a negative one or a word is a start error", arguments: [
        ("ROSTER_HTTP_IDLE_TIMEOUT_SECONDS", "0"), ("ROSTER_HTTP_HEADER_TIMEOUT_SECONDS", "-1"), ("ROSTER_HTTP_BODY_TIMEOUT_SECONDS", "0"),
        ("ROSTER_HTTP_MAX_CONNECTIONS", "0"), ("ROSTER_HTTP_MAX_CONNECTIONS", "-5"), ("ROSTER_HTTP_IDLE_TIMEOUT_SECONDS", "ten"),
    ])
    func invalidHTTPLimits(variable: String, value: String) {
        #expect(throws: (any Error).self) { try Self.configuration([variable: value]) }
    }

    @Test("webhooks: one tenant holds at most a quarter of the 16 workers by default; ROSTER_WEBHOOK_TENANT_CONCURRENCY sets 1…16")
    func tenantConcurrency() throws {
        #expect(try Self.configuration([:]).webhooks.tenantLimit == 4)
        #expect(try Self.configuration(["ROSTER_WEBHOOK_TENANT_CONCURRENCY": "1"]).webhooks.tenantLimit == 1)
        #expect(try Self.configuration(["ROSTER_WEBHOOK_TENANT_CONCURRENCY": "16"]).webhooks.tenantLimit == 16)
        for bad in ["0", "-2", "17"] {
            #expect(throws: RosterConfiguration.Invalid.self, "\(bad)") { try Self.configuration(["ROSTER_WEBHOOK_TENANT_CONCURRENCY": bad]) }
        }
    }

    @Test("database pool size: at least 2 while webhooks are on (the dispatcher keeps one), else at least 1")
    func poolSize() throws {
        #expect(try Self.configuration(["ROSTER_DATABASE_MAX_CONNECTIONS": "2"]).databaseMaxConnections == 2)
        #expect(try Self.configuration(["ROSTER_DATABASE_MAX_CONNECTIONS": "1", "ROSTER_WEBHOOKS": "false"]).databaseMaxConnections == 1)
        for (size, webhooks) in [("1", "true"), ("0", "true"), ("0", "false"), ("-3", "false")] {
            #expect(throws: RosterConfiguration.Invalid.self, "\(size) connections, webhooks \(webhooks)") {
                try Self.configuration(["ROSTER_DATABASE_MAX_CONNECTIONS": size, "ROSTER_WEBHOOKS": webhooks])
            }
        }
    }

    @Test("webhooks: an attempt's timeout must be shorter than the lease, or another replica could send while it is in flight")
    func timeoutUnderLease() throws {
        #expect(try Self.configuration(["ROSTER_WEBHOOK_TIMEOUT_SECONDS": "29"]).webhooks.timeout == .seconds(29))
        #expect(try Self.configuration(["ROSTER_WEBHOOK_TIMEOUT_SECONDS": "60", "ROSTER_WEBHOOK_LEASE_SECONDS": "61"]).webhooks.lease == .seconds(61))
        for (timeout, lease) in [("30", nil), ("31", nil), ("10", "10"), ("15", "5")] as [(String, String?)] {
            var variables = ["ROSTER_WEBHOOK_TIMEOUT_SECONDS": timeout]
            variables["ROSTER_WEBHOOK_LEASE_SECONDS"] = lease
            #expect(throws: RosterConfiguration.Invalid.self, "\(timeout) s under a lease of \(lease ?? "30") s") { try Self.configuration(variables) }
        }
    }

    @Test("database pool mode: direct by default; ROSTER_DATABASE_POOL_MODE takes session or transaction in any case, and refuses statement with the reason")
    func poolMode() throws {
        #expect(try Self.configuration([:]).databaseRoute().mode == .direct)
        #expect(try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "session"]).databaseRoute().mode == .session)
        let session = "postgres://roster@127.0.0.1:5432/roster"
        #expect(try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "Transaction", "ROSTER_DATABASE_SESSION_URL": session]).databaseRoute().mode == .transaction)
        let statement = #expect(throws: RosterConfiguration.Invalid.self) { try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "statement"]) }
        #expect(statement?.description.contains("session or transaction mode") == true)
        #expect(throws: RosterConfiguration.Invalid.self) { try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "pgbouncer"]) }
    }

    @Test("a session URL is for transaction mode: needed there, refused with the others, and refused when it is no postgres URL or names several hosts")
    func sessionURL() throws {
        let url = "postgres://roster:secret@127.0.0.1:5432/roster"
        let route = try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "transaction", "ROSTER_DATABASE_SESSION_URL": url]).databaseRoute()
        #expect(route.sessionURL?.port == 5432 && route.sessionURL?.password == "secret")
        let missing = #expect(throws: RosterConfiguration.Invalid.self) { try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "transaction"]) }
        #expect(missing?.description.hasPrefix("ROSTER_DATABASE_POOL_MODE=transaction needs ROSTER_DATABASE_SESSION_URL") == true)
        let hosts = #expect(throws: RosterConfiguration.Invalid.self) {
            try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "transaction", "ROSTER_DATABASE_SESSION_URL": "postgres://roster@a:5432,b:5432/roster"])
        }
        #expect(hosts?.description.hasPrefix("ROSTER_DATABASE_SESSION_URL names one host") == true)
        for mode in ["direct", "session"] {
            let error = #expect(throws: RosterConfiguration.Invalid.self) {
                try Self.configuration(["ROSTER_DATABASE_POOL_MODE": mode, "ROSTER_DATABASE_SESSION_URL": url])
            }
            #expect(error?.description.hasPrefix("ROSTER_DATABASE_SESSION_URL is for ROSTER_DATABASE_POOL_MODE=transaction") == true)
        }
        let bad = #expect(throws: RosterConfiguration.Invalid.self) {
            try Self.configuration(["ROSTER_DATABASE_POOL_MODE": "transaction", "ROSTER_DATABASE_SESSION_URL": "mysql://x@y/z"])
        }
        #expect(bad?.description.hasPrefix("ROSTER_DATABASE_SESSION_URL: ") == true)
    }
}
