import Foundation
import HTTPTypes
import RosterServer
import SCIM
import Testing

extension ServerSuite {
    @Suite("Every rate-limited operation documents its 429")
    struct RateLimitDocumentTests {
        /// Hand-registered beside the limiter, never behind it: a Prometheus scrape is not rate limited.
        static let unlimited: Set<String> = ["GET /metrics"]

        @Test("each operation that needs a credential lists 429 (the limiter sits behind authentication on every such route)")
        func documented() async throws {
            try await Roster.run { roster in
                let document = try await roster.send(.get, "/api/v1/openapi.json").json
                let global = document["security"]?.arrayValue ?? []
                var undocumented: [String] = []
                for (path, item) in try #require(document["paths"]?.objectValue) {
                    for method in ["get", "put", "post", "delete", "patch"] {
                        guard let operation = item[method] else { continue }
                        let security = operation["security"]?.arrayValue ?? global
                        let name = "\(method.uppercased()) \(path)"
                        if security.isEmpty || Self.unlimited.contains(name) { continue }
                        if operation["responses"]?["429"] == nil { undocumented.append(name) }
                    }
                }
                #expect(undocumented.isEmpty, "no 429 documented for \(undocumented.sorted())")
            }
        }

        @Test("GET and PUT /api/v1/config answer 429 once the admin key's limit is spent, as documented")
        func configLimited() async throws {
            try await Roster.run(scim: nil, admin: policy("1/300s")) { roster in
                #expect(try await roster.admin(.get, "/config").status == .ok)
                try await roster.admin(.get, "/config").expectAdminError(.tooManyRequests)
                try await roster.admin(.put, "/config", body: "{}").expectAdminError(.tooManyRequests)
                let document = try await roster.send(.get, "/api/v1/openapi.json").json
                #expect(document["paths"]?["/api/v1/config"]?["get"]?["responses"]?["429"] != nil)
                #expect(document["paths"]?["/api/v1/config"]?["put"]?["responses"]?["429"] != nil)
            }
        }
    }
}
