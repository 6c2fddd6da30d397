import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import Synchronization
import Testing

/// Keeps every log record a Roster writes, for assertions on its metadata.
final class LogCapture: Sendable {
    struct Record: Sendable {
        var message: String
        var metadata: [String: String]
    }
    let records = Mutex<[Record]>([])

    var handler: @Sendable (String) -> any LogHandler {
        { _ in Handler(capture: self) }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }.mapValues { "\($0)" }
            capture.records.withLock { $0.append(Record(message: event.message.description, metadata: all)) }
        }
    }
}

extension ServerSuite {
    @Suite("Request ids and log metadata")
    struct RequestIdTests {
        @Test("every response carries X-Request-Id: a sane incoming one is kept, anything else replaced")
        func header() async throws {
            try await Roster.run { roster in
                let generated = try await roster.send(.get, "/api/health/live")
                let id = try #require(generated.headers[.init("X-Request-Id")!])
                #expect(id.wholeMatch(of: /[0-9a-f]{32}/) != nil)
                let kept = try await roster.send(.get, "/scim/v2/Users", headers: [.init("X-Request-Id")!: "okta-7f3a.b_2:1"])
                #expect(kept.status == .unauthorized)
                #expect(kept.headers[.init("X-Request-Id")!] == "okta-7f3a.b_2:1")
                for insane in [String(repeating: "a", count: 129), "has space", "quote\"", "ü"] {
                    let reply = try await roster.send(.get, "/api/v1/nope", headers: [.init("X-Request-Id")!: insane])
                    #expect(reply.status == .notFound)
                    let replaced = try #require(reply.headers[.init("X-Request-Id")!])
                    #expect(replaced != insane && replaced.count == 32)
                }
            }
        }

        @Test("log lines of an authenticated request carry its request id, tenant and credential id, never the secret")
        func metadata() async throws {
            let postgres = try TestPostgres.require()
            let url = try await postgres.freshDatabase()
            let (tenantID, tokenID, token) = try await withDatabase(url: url, logger: postgres.logger) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default"))
                let (record, secret) = try await ScimTokenRepository(database: db).create(tenant: tenant.id, name: "logs", by: .system)
                return (tenant.id, record.id, secret.reveal())
            }
            let capture = LogCapture()
            var logger = Logger(label: "roster-test", factory: capture.handler)
            logger.logLevel = .debug
            var configuration = RosterConfiguration(databaseURL: url, databaseMaxConnections: 2)
            configuration.secrets = TestSecrets.atRest
            let app = try buildApplication(configuration, logger: logger)
            try await testApplication(app, .router) { client in
                try await client.execute(
                    uri: "/scim/v2/Users", method: .get,
                    headers: [.authorization: "Bearer \(token)", .init("X-Request-Id")!: "req-logs-1"]
                ) { response in
                    #expect(response.status == .ok)
                }
            }
            let records = capture.records.withLock { $0 }
            let authenticated = try #require(records.first { $0.message == "SCIM request authenticated" })
            #expect(authenticated.metadata["request_id"] == "req-logs-1")
            #expect(authenticated.metadata["tenant_id"] == tenantID.uuidString.lowercased())
            #expect(authenticated.metadata["credential_id"] == tokenID.uuidString.lowercased())
            #expect(!records.contains { record in record.message.contains(token) || record.metadata.values.contains { $0.contains(token) } })
        }
    }
}
