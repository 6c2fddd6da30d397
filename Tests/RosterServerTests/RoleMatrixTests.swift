import Foundation
import HTTPTypes
import RosterServer
import SCIM
import Testing

extension ServerSuite {
    @Suite("Least privilege: every admin route × every built-in role")
    struct RoleMatrixTests {
        /// The built-in roles' scopes: the specification this test holds the server to.
        static let roles: [String: Set<String>] = [
            "owner": ["*"],
            "admin": ["tenants", "scim-tokens", "admin-keys", "webhooks", "directory:read", "feed:read", "audit:read", "provisioning:read", "metrics"],
            "auditor": ["audit:read", "feed:read", "provisioning:read", "metrics"],
            "viewer": ["directory:read", "feed:read"],
        ]

        /// A value for each path parameter: the default tenant, a built-in role, otherwise an id nothing has.
        static func fill(_ path: String) -> String {
            path.replacingOccurrences(of: "{tenant}", with: "default").replacingOccurrences(of: "{role}", with: "viewer")
                .replacing(/\{[a-z_]+\}/) { _ in UUID().uuidString.lowercased() }
        }

        @Test("each admin operation declares a scope (or is public), and each built-in role gets 403 exactly where it lacks it")
        func matrix() async throws {
            try await Roster.run { roster in
                let document = try await roster.send(.get, "/api/v1/openapi.json").json
                let paths = try #require(document["paths"]?.objectValue)
                var sessions: [String: String] = [:]
                for role in Self.roles.keys.sorted() {
                    _ = try await roster.createAdminUser("\(role)@example.com", roles: [role])
                    sessions[role] = try await roster.signIn("\(role)@example.com").access
                }
                var checked = 0
                for (path, item) in paths where path.hasPrefix("/api/v1/") || path == "/metrics" {
                    for method in ["get", "put", "post", "delete", "patch"] {
                        guard let operation = item[method] else { continue }
                        if operation["security"] == .array([]) { continue }
                        // The setup API takes a setup link's secret, never an admin's; about-me routes take any admin.
                        let setupOnly = operation["security"] == [["setupLink": []]]
                        let anyAdmin = operation["x-roster-access"] == "authenticated"
                        let scope = setupOnly || anyAdmin
                            ? "" : try #require(operation["x-roster-scope"]?.stringValue, "\(method.uppercased()) \(path) declares no x-roster-scope")
                        for (role, scopes) in Self.roles {
                            let reply = try await roster.send(
                                HTTPRequest.Method(method.uppercased())!, Self.fill(path),
                                headers: [.authorization: "Bearer \(sessions[role]!)", .contentType: "application/json"],
                                body: method == "get" || method == "delete" ? nil : "{}")
                            let holds = anyAdmin || scopes.contains("*") || scopes.contains(scope)
                            if setupOnly {
                                #expect(reply.status == .unauthorized, "\(role) \(method) \(path): \(reply.body)")
                            } else if holds {
                                #expect(reply.status != .forbidden && reply.status != .unauthorized, "\(role) \(method) \(path): \(reply.body)")
                            } else {
                                #expect(reply.status == .forbidden, "\(role) \(method) \(path): \(reply.body)")
                                #expect(reply.json["error"]?["message"]?.stringValue?.contains("'\(scope)'") == true, "\(reply.body)")
                            }
                            checked += 1
                        }
                    }
                }
                #expect(checked >= 4 * 55, "only \(checked) route × role pairs")
            }
        }
    }
}
