import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import RosterAuth
import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

/// Every HTTP suite nests here, so the run shares one PostgreSQL.
@Suite(.postgres) struct ServerSuite {}

/// What a test gets: a client on a fresh Roster, and credentials of the default tenant.
struct Roster: Sendable {
    static let publicURL = "https://roster.example.test"
    let client: any TestClientProtocol
    let databaseURL: String
    let scimToken: String
    let adminKey: String
    let bootstrapKey: String
    /// The listening port, when the test runs on a real socket (`live`).
    var port: Int? = nil

    static let scimBase = publicURL + "/scim/v2"

    /// Runs `body` against a Roster on its own database; `live`: on a socket on 127.0.0.1, through its channel handlers.
    static func run(
        schemasDirectory: String? = nil, live: Bool = false, configure: (inout RosterConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (Roster) async throws -> Void
    ) async throws {
        // At most 32 applications at once: hundreds of tests start together, and each application's pool and
        // LISTEN connections, times hundreds, passed the cluster's 1000 connections ("too many clients": 503s).
        await applicationSlots.acquire()
        do {
            try await runInSlot(schemasDirectory: schemasDirectory, live: live, configure: configure, body)
        } catch {
            await applicationSlots.release()
            throw error
        }
        await applicationSlots.release()
    }

    static let applicationSlots = TestSlots(32)

    private static func runInSlot(
        schemasDirectory: String?, live: Bool, configure: (inout RosterConfiguration) -> Void,
        _ body: @escaping @Sendable (Roster) async throws -> Void
    ) async throws {
        let postgres = try TestPostgres.require()
        let url = try await postgres.freshDatabase()
        let (token, key) = try await withDatabase(url: url, logger: postgres.logger) { db in
            let tenant = try #require(try await TenantRepository(database: db).find("default"))
            let token = try await ScimTokenRepository(database: db).create(tenant: tenant.id, name: "test", by: .system).1
            let key = try await AdminKeyRepository(database: db).create(name: "test", tenant: nil, scopes: [.all], by: .system).1
            return (token.reveal(), key.reveal())
        }
        let bootstrap = Secret.generate(.adminKey).reveal()
        var configuration = configuration(url: url, bootstrap: bootstrap, schemasDirectory: schemasDirectory)
        configure(&configuration)
        try await prepareStoredSecrets(configuration, logger: postgres.logger)
        let app = try buildApplication(configuration, logger: postgres.logger)
        try await testApplication(app, live ? .live : .router) { client in
            try await body(Roster(client: client, databaseURL: url, scimToken: token, adminKey: key, bootstrapKey: bootstrap, port: client.port))
        }
    }

    /// A second application instance on this Roster's database (a replica: its own pool, its own LISTEN
    /// connection, its own caches), with the same credentials, for as long as `body` runs.
    func replica(_ body: @escaping @Sendable (Roster) async throws -> Void) async throws {
        let postgres = try TestPostgres.require()
        let app = try buildApplication(Self.configuration(url: databaseURL, bootstrap: bootstrapKey), logger: postgres.logger)
        try await testApplication(app, .router) { client in
            try await body(Roster(client: client, databaseURL: databaseURL, scimToken: scimToken, adminKey: adminKey, bootstrapKey: bootstrapKey))
        }
    }

    /// The configuration every test Roster starts from.
    static func configuration(url: String, bootstrap: String, schemasDirectory: String? = nil) -> RosterConfiguration {
        var configuration = RosterConfiguration(
            databaseURL: url, publicURL: publicURL, adminKey: BootstrapAdminKey(bootstrap), schemasDirectory: schemasDirectory,
            logLevel: .warning, databaseMaxConnections: 4, healthLatencyBudgetMilliseconds: 60_000)
        configuration.healthTimeoutMilliseconds = 60_000
        // Test receivers listen on loopback; retries come quickly.
        configuration.webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: true)
        configuration.webhooks.pollInterval = .milliseconds(200)
        // bcrypt's cheapest cost, and rights re-read on every request, so tests see changes at once.
        configuration.identity.passwordCost = 4
        configuration.identity.grantCacheLifetime = .zero
        // Suites run side by side on two cores: a tenant's parallel requests and a 100 000-member read take what
        // they take. The suites of the limits set their own (StatementTimeoutTests, TenantShareTests).
        configuration.limits.scimStatementTimeout = .seconds(60)
        configuration.limits.tenantPoolSharePercent = 100
        // Secrets sealed as `roster serve` seals them, with the start's sealing pass.
        configuration.secrets = TestSecrets.atRest
        return configuration
    }

    /// A SCIM request with the default tenant's token (or the one given).
    @discardableResult
    func scim(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> Reply {
        var fields = headers
        fields[.authorization] = "Bearer \(token ?? scimToken)"
        if body != nil && fields[.contentType] == nil { fields[.contentType] = "application/scim+json" }
        return try await send(method, "/scim/v2" + path, headers: fields, body: body)
    }

    /// An admin API request with the default global admin key (or the one given).
    @discardableResult
    func admin(_ method: HTTPRequest.Method, _ path: String, key: String? = nil, body: String? = nil) async throws -> Reply {
        var fields: HTTPFields = [.init("X-Admin-API-Key")!: key ?? adminKey]
        if body != nil { fields[.contentType] = "application/json" }
        return try await send(method, "/api/v1" + path, headers: fields, body: body)
    }

    /// An admin API request with `Authorization: Bearer <token>` (an access JWT), and any extra headers.
    @discardableResult
    func admin(
        _ method: HTTPRequest.Method, _ path: String, bearer token: String, body: String? = nil, headers: HTTPFields = [:]
    ) async throws -> Reply {
        var fields = headers
        fields[.authorization] = "Bearer \(token)"
        if body != nil { fields[.contentType] = "application/json" }
        return try await send(method, "/api/v1" + path, headers: fields, body: body)
    }

    /// A request to a public admin route (sign in, refresh), without a credential.
    func anonymous(_ method: HTTPRequest.Method, _ path: String, body: String) async throws -> Reply {
        try await send(method, "/api/v1" + path, headers: [.contentType: "application/json"], body: body)
    }

    static let password = "correct horse battery staple"

    /// Creates an admin user holding `roles` on every tenant; returns their id.
    func createAdminUser(_ email: String, roles: [String] = [], password: String? = Roster.password) async throws -> String {
        let roleList = roles.map { "\"\($0)\"" }.joined(separator: ",")
        let passwordField = password.map { #","password":"\#($0)""# } ?? ""
        let reply = try await admin(.post, "/admin/users", body: #"{"email":"\#(email)","roles":[\#(roleList)]\#(passwordField)}"#)
        #expect(reply.status == .created, "\(reply.body)")
        return try #require(reply.json["id"]?.stringValue)
    }

    /// Signs in with email and password; returns the access and refresh tokens.
    func signIn(_ email: String, password: String = Roster.password) async throws -> (access: String, refresh: String) {
        let reply = try await anonymous(.post, "/auth/token", body: #"{"email":"\#(email)","password":"\#(password)"}"#)
        #expect(reply.status == .ok, "\(reply.body)")
        return (try #require(reply.json["access_token"]?.stringValue), try #require(reply.json["refresh_token"]?.stringValue))
    }

    func send(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String? = nil) async throws -> Reply {
        try await client.execute(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }
        ) { response in
            Reply(status: response.status, headers: response.headers, body: String(buffer: response.body))
        }
    }

    /// Lists users matching a filter; returns their userNames in the server's order.
    func userNames(filter: String, extra: String = "") async throws -> [String] {
        let reply = try await scim(.get, "/Users?count=1000&filter=" + filter.urlQueryEncoded + extra)
        #expect(reply.status == .ok, "\(filter): \(reply.body)")
        return reply.json["Resources"]?.arrayValue?.compactMap { $0["userName"]?.stringValue } ?? []
    }

    /// A PATCH with the given operations array.
    @discardableResult
    func patch(_ path: String, _ operations: String, headers: HTTPFields = [:]) async throws -> Reply {
        try await scim(.patch, path, body: #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":\#(operations)}"#, headers: headers)
    }

    /// Creates a user and returns its id.
    func createUser(_ userName: String, extra: String = "", token: String? = nil) async throws -> String {
        let reply = try await scim(.post, "/Users", token: token, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\#(userName)"\#(extra)}"#)
        #expect(reply.status == .created, "\(reply.body)")
        return try #require(reply.json["id"]?.stringValue)
    }

    /// Creates a group with the given member ids and returns its id.
    func createGroup(_ name: String, members: [String] = []) async throws -> String {
        let list = members.map { #"{"value":"\#($0)"}"# }.joined(separator: ",")
        let reply = try await scim(.post, "/Groups", body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"\#(name)","members":[\#(list)]}"#)
        #expect(reply.status == .created, "\(reply.body)")
        return try #require(reply.json["id"]?.stringValue)
    }

    /// A second tenant with its own SCIM token.
    func otherTenant(_ name: String) async throws -> (id: String, token: String) {
        let tenant = try await admin(.post, "/tenants", body: #"{"name":"\#(name)"}"#)
        #expect(tenant.status == .created)
        let token = try await admin(.post, "/tenants/\(name)/scim/tokens", body: #"{"name":"other"}"#)
        #expect(token.status == .created)
        return (try #require(tenant.json["id"]?.stringValue), try #require(token.json["token"]?.stringValue))
    }
}

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: String

    var json: JSONValue { (try? JSONValue.parse(Array(body.utf8))) ?? .null }

    /// Asserts the reply is a SCIM error with the given status (and scimType, when given).
    func expectScimError(_ status: HTTPResponse.Status, _ scimType: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(body)", sourceLocation: sourceLocation)
        #expect(json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], "\(body)", sourceLocation: sourceLocation)
        #expect(json["status"] == .string(String(status.code)), sourceLocation: sourceLocation)
        #expect(json["detail"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        if let scimType { #expect(json["scimType"] == .string(scimType), "\(body)", sourceLocation: sourceLocation) }
        #expect(headers[.contentType] == "application/scim+json", sourceLocation: sourceLocation)
    }

    /// Asserts the reply is an admin API error with the given status.
    func expectAdminError(_ status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(self.status == status, "\(body)", sourceLocation: sourceLocation)
        #expect(json["error"]?["message"]?.stringValue?.isEmpty == false, "\(body)", sourceLocation: sourceLocation)
    }
}

enum ApplicationTestEvent: Sendable {
    case bodyDone((any Error)?)
    case finished((any Error)?)
    case outOfTime
}

/// `app.test(mode, body)`, except that once `body` is done the application gets `grace` to stop, and is left behind
/// (with a line saying so) if it has not: the test's outcome is `body`'s. Whole-suite runs were seen hanging for
/// ever, a few times in ten, on an application whose service group never finished stopping after its test had
/// passed: once its database pool, its connections all closed already. Until that is found, a stuck stop costs
/// the run `grace`, not the run.
func testApplication<App: ApplicationProtocol & Sendable>(
    _ app: App, _ mode: TestingSetup, grace: Duration = .seconds(120),
    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    let (events, emit) = AsyncStream.makeStream(of: ApplicationTestEvent.self)
    // Not awaited: a stop that never finishes is what this leaves behind.
    Task {
        do {
            try await app.test(mode) { client in
                do {
                    try await body(client)
                    emit.yield(.bodyDone(nil))
                } catch {
                    emit.yield(.bodyDone(error))
                    throw error
                }
            }
            emit.yield(.finished(nil))
        } catch {
            emit.yield(.finished(error))
        }
    }
    var timer: Task<Void, Never>?
    defer { timer?.cancel() }
    var bodyError: (any Error)?
    for await event in events {
        switch event {
        case .bodyDone(let error):
            bodyError = error
            timer = Task {
                try? await Task.sleep(for: grace)
                emit.yield(.outOfTime)
            }
        case .finished(let error):
            if let error { throw error }
            return
        case .outOfTime:
            print("roster test harness: \(Test.current?.name ?? "a test")'s application did not stop within \(grace) of its body's end; left running")
            if let bodyError { throw bodyError }
            return
        }
    }
}
