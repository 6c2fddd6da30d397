import Foundation
import HTTPTypes
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Prometheus /metrics")
    struct MetricsTests {
        /// The exposition's samples whose name is `name`, as (labels, value).
        func samples(_ text: String, _ name: String) -> [(labels: String, value: Double)] {
            text.split(separator: "\n").compactMap { line in
                guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "), let space = line.lastIndex(of: " ") else { return nil }
                return (String(line[line.startIndex..<space]), Double(line[line.index(after: space)...]) ?? -1)
            }
        }

        func value(_ text: String, _ name: String, _ labels: [String]) -> Double {
            samples(text, name).filter { sample in labels.allSatisfy { sample.labels.contains($0) } }.map(\.value).reduce(0, +)
        }

        @Test("after scripted requests the scrape counts them by route template, SCIM operation and rejection reason, with no id in any label")
        func scrape() async throws {
            try await Roster.run { roster in
                let id = try await roster.createUser("metrics.user")
                #expect(try await roster.scim(.get, "/Users/\(id)").status == .ok)
                #expect(try await roster.scim(.get, "/Users/\(UUID().uuidString)").status == .notFound)
                #expect(try await roster.admin(.get, "/tenants").status == .ok)
                _ = try await roster.send(.get, "/scim/v2/Users")
                _ = try await roster.scim(.get, "/Users", token: "scim_" + String(repeating: "A", count: 43))
                _ = try await roster.scim(.get, "/Users", token: roster.adminKey)
                let created = try await roster.admin(.post, "/scim/tokens", body: #"{"name":"soon revoked"}"#)
                let revokedToken = try #require(created.json["token"]?.stringValue)
                _ = try await roster.admin(.delete, "/scim/tokens/\(try #require(created.json["id"]?.stringValue))")
                _ = try await roster.scim(.get, "/Users", token: revokedToken)

                let reply = try await roster.send(.get, "/metrics", headers: [.authorization: "Bearer \(roster.adminKey)"])
                #expect(reply.status == .ok, "\(reply.body)")
                #expect(reply.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = reply.body
                let requests = "roster_http_requests_total"
                #expect(value(text, requests, [#"route="/scim/v2/Users/{id}""#, #"method="GET""#, #"status_class="2xx""#]) == 1)
                #expect(value(text, requests, [#"route="/scim/v2/Users/{id}""#, #"status_class="4xx""#]) == 1)
                #expect(value(text, requests, [#"route="/api/v1/tenants""#, #"method="GET""#, #"status_class="2xx""#]) == 1)
                #expect(value(text, "roster_http_request_duration_seconds_count", [#"route="/scim/v2/Users""#, #"method="POST""#]) == 1)
                let scim = "roster_scim_operations_total"
                #expect(value(text, scim, [#"resource_type="User""#, #"operation="create""#, #"outcome="success""#]) == 1)
                #expect(value(text, scim, [#"resource_type="User""#, #"operation="get""#, #"outcome="not_found""#]) == 1)
                let rejected = "roster_tokens_rejected_total"
                for reason in ["missing", "unknown", "wrong_credential_type", "revoked"] {
                    #expect(value(text, rejected, [#"credential="scim_token""#, #"reason="\#(reason)""#]) == 1, "\(reason)")
                }
                #expect(value(text, "roster_db_query_duration_seconds_count", [#"statement="select""#]) > 0)
                #expect(value(text, "roster_db_query_duration_seconds_count", [#"statement="insert""#]) > 0)

                // Cardinality: labels are templates and closed sets: no UUID, no secret, no raw path.
                let labels = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: "{", maxSplits: 1).dropFirst().first }
                #expect(!labels.isEmpty)
                for label in labels {
                    #expect(label.firstMatch(of: /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-/) == nil, "an id in a label: \(label)")
                    #expect(label.firstMatch(of: /(scim|radm)_[A-Za-z0-9_-]{20,}/) == nil, "a secret in a label: \(label)")
                }
                #expect(!text.contains(id))
            }
        }

        @Test("/metrics needs a global admin key with the metrics scope")
        func access() async throws {
            try await Roster.run { roster in
                try await roster.send(.get, "/metrics").expectAdminError(.unauthorized)
                let scoped = try await roster.admin(.post, "/admin-keys", body: #"{"name":"prometheus","scopes":["metrics"]}"#)
                let key = try #require(scoped.json["key"]?.stringValue)
                #expect(try await roster.send(.get, "/metrics", headers: [.authorization: "Bearer \(key)"]).status == .ok)
                let other = try #require(
                    try await roster.admin(.post, "/admin-keys", body: #"{"name":"ops","scopes":["tenants"]}"#).json["key"]?.stringValue)
                try await roster.send(.get, "/metrics", headers: [.authorization: "Bearer \(other)"]).expectAdminError(.forbidden)
                _ = try await roster.otherTenant("acme")
                let bound = try #require(
                    try await roster.admin(.post, "/admin-keys", body: #"{"name":"acme","scopes":["*"],"tenant":"acme"}"#).json["key"]?.stringValue)
                try await roster.send(.get, "/metrics", headers: [.authorization: "Bearer \(bound)"]).expectAdminError(.forbidden)
            }
        }
    }
}
