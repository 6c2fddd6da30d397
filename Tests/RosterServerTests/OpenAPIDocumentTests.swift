import Foundation
import Hummingbird
import Logging
import PostgresNIO
@testable import RosterServer
import RosterStore
import SCIM
import Testing

extension ServerSuite {
    @Suite("The OpenAPI document is the API")
    struct OpenAPIDocumentTests {
        /// The served document's operations, as "METHOD /path/{param}".
        func documentedOperations(_ roster: Roster) async throws -> Set<String> {
            let document = try await roster.send(.get, "/api/v1/openapi.json").json
            let paths = try #require(document["paths"]?.objectValue)
            var operations = Set<String>()
            for (path, item) in paths {
                for method in ["get", "put", "post", "delete", "patch", "head", "options", "trace"] where item[method] != nil {
                    operations.insert("\(method.uppercased()) \(path)")
                }
            }
            return operations
        }

        /// The routes Roster's router holds, built as the server builds it (its database is never contacted).
        func routerRoutes() throws -> [Router<RosterRequestContext>.RouteDescription] {
            let client = PostgresClient(
                configuration: .init(host: "127.0.0.1", username: "unused", password: nil, database: nil, tls: .disable),
                backgroundLogger: Logger(label: "unused"))
            let router = try buildRouter(
                database: RosterDatabase(client: client, logger: Logger(label: "unused")), registry: SchemaDocuments.registry(),
                migrator: Migrator(migrations: try Migration.bundled()), configuration: RosterConfiguration(publicURL: Roster.publicURL),
                metrics: RosterMetrics())
            return router.routes
        }

        @Test("no key of the document is null: an unquoted description with a comma in a flow mapping splits into stray keys")
        func noStrayKeys() async throws {
            try await Roster.run { roster in
                let document = try await roster.send(.get, "/api/v1/openapi.json").json
                var stray: [String] = []
                func walk(_ value: JSONValue, _ path: String) {
                    switch value {
                    case .object(let members):
                        for (key, member) in members {
                            // An example may say null on purpose (`event_types: null` subscribes to every type again).
                            if member.isNull, !path.contains("/example") { stray.append(path + "/" + key) }
                            walk(member, path + "/" + key)
                        }
                    case .array(let items):
                        for (index, item) in items.enumerated() { walk(item, path + "[\(index)]") }
                    default: break
                    }
                }
                walk(document, "")
                #expect(stray.isEmpty, "\(stray)")
            }
        }

        @Test("served without credentials, as JSON and YAML, with servers set to the public URL")
        func served() async throws {
            try await Roster.run { roster in
                let json = try await roster.send(.get, "/api/v1/openapi.json")
                #expect(json.status == .ok)
                #expect(json.headers[.contentType] == "application/json")
                #expect(json.json["openapi"] == "3.1.0")
                #expect(json.json["servers"]?[0]?["url"] == .string(Roster.publicURL))
                let yaml = try await roster.send(.get, "/api/v1/openapi.yaml")
                #expect(yaml.status == .ok)
                #expect(yaml.headers[.contentType] == "application/yaml")
                #expect(yaml.body.hasPrefix("openapi: 3.1.0"))
                #expect(yaml.body.contains("url: \(Roster.publicURL)"))
                #expect(!yaml.body.contains("127.0.0.1:8080"))
            }
        }

        @Test("every route on the router is in the document, and every documented operation is on the router")
        func routesMatchDocument() async throws {
            try await Roster.run { roster in
                let documented = try await documentedOperations(roster)
                let routes = try routerRoutes()
                let registered = Set(routes.map { "\($0.method.rawValue) \($0.path.description)" })
                for operation in documented.subtracting(registered).sorted() {
                    Issue.record("The document names \(operation), which the router does not have.")
                }
                // A route the document leaves out may only exist to refuse its method with 405.
                for route in routes where !documented.contains("\(route.method.rawValue) \(route.path.description)") {
                    let path = route.path.description.replacing(/\{[^}]+\}/, with: UUID().uuidString)
                    let reply =
                        path.hasPrefix("/scim/v2")
                        ? try await roster.scim(route.method, String(path.dropFirst("/scim/v2".count)), body: "{}")
                        : try await roster.admin(route.method, String(path.dropFirst("/api/v1".count)), body: "{}")
                    #expect(reply.status == .methodNotAllowed, "\(route) is on the router but not in the document (answered \(reply.status.code))")
                }
                #expect(documented.contains("POST /api/v1/admin-keys"))
            }
        }

        @Test("a method a documented path does not take is 405 with Allow, in the path's error format")
        func undeclaredMethod() async throws {
            try await Roster.run { roster in
                let admin = try await roster.admin(.put, "/tenants")
                admin.expectAdminError(.methodNotAllowed)
                #expect(admin.headers[.allow] == "GET, POST")
                let scim = try await roster.send(.init("TRACE")!, "/scim/v2/ServiceProviderConfig")
                scim.expectScimError(.methodNotAllowed)
                #expect(try await roster.admin(.get, "/no-such-route").status == .notFound)
            }
        }
    }
}

extension ServerSuite {
    @Suite("The /api/docs reference page")
    struct DocsPageTests {
        @Test("the page, its script and stylesheet are served without credentials, under a CSP that allows only Roster itself")
        func served() async throws {
            try await Roster.run { roster in
                for (path, type) in [("/api/docs", "text/html"), ("/api/docs/docs.js", "text/javascript"), ("/api/docs/docs.css", "text/css")] {
                    let reply = try await roster.send(.get, path)
                    #expect(reply.status == .ok, "\(path)")
                    #expect(reply.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                    let policy = try #require(reply.headers[.contentSecurityPolicy])
                    #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"))
                    // Offline: nothing loaded from elsewhere (no CDN, no web font, no remote script or image).
                    #expect(reply.body.firstMatch(of: /(src|href)\s*=\s*["']?(https?:)?\/\/|@import|url\(\s*["']?(https?:)?\/\//) == nil, "\(path) loads from elsewhere")
                }
                #expect(try await roster.send(.get, "/api/docs").body.contains(#"src="/api/docs/docs.js""#))
            }
        }
    }
}
