import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Requests whose bytes the HTTP parser refuses get a SCIM error body")
    struct HeaderBytesTests {
        /// What came back on a fresh connection to 127.0.0.1:`port` for `request`, read until the server closes.
        static func exchange(_ request: [UInt8], port: Int) async throws -> String {
            try await LoopbackConnection.exchange(request, port: port)
        }

        /// Runs `body` with the port of a live Roster (a real listening socket: these bytes never reach a router).
        static func live(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
            let postgres = try TestPostgres.require()
            let url = try await postgres.freshDatabase()
            var configuration = RosterConfiguration(host: "127.0.0.1", port: 0, databaseURL: url, logLevel: .critical, databaseMaxConnections: 2)
            configuration.webhooksEnabled = false
            configuration.secrets = TestSecrets.atRest
            var logger = postgres.logger
            logger.logLevel = .critical
            try await buildApplication(configuration, logger: logger).test(.live) { client in
                try await body(try #require(client.port))
            }
        }

        /// The status line, headers and SCIM error of one answer.
        static func parse(_ answer: String) -> (status: String, headers: String, body: JSONValue)? {
            guard let split = answer.range(of: "\r\n\r\n") else { return nil }
            let head = answer[..<split.lowerBound]
            let body = try? JSONValue.parse(Array(answer[split.upperBound...].utf8))
            return (String(head.prefix { $0 != "\r" }), String(head).lowercased(), body ?? .null)
        }

        @Test("a control character, a space in a name, a bare LF in a value or a broken request line: 400 invalidSyntax as a SCIM error", arguments: [
            "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Bad: a\u{01}b\r\n\r\n",
            "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n",
            "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Nul: a\u{0}b\r\n\r\n",
            "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
            "GET /scim/v2/Users HTTP/9.9.9\r\nHost: x\r\n\r\n",
            "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        ])
        func refusedHeaderBytes(request: String) async throws {
            try await Self.live { port in
                let answer = try await Self.exchange(Array(request.utf8), port: port)
                let parsed = try #require(Self.parse(answer), "no HTTP answer: \(answer.debugDescription)")
                #expect(parsed.status.hasPrefix("HTTP/1.1 400"), "\(parsed.status)")
                #expect(parsed.headers.contains("content-type: application/scim+json"))
                #expect(parsed.headers.contains("connection: close"))
                #expect(parsed.body["schemas"] == [.string(ScimError.schema)])
                #expect(parsed.body["status"] == "400")
                #expect(parsed.body["scimType"] == "invalidSyntax")
                #expect(parsed.body["detail"]?.stringValue?.isEmpty == false)
            }
        }

        @Test("a header field past the 80 KiB decoder limit is 431 with a SCIM error")
        func oversizedHeader() async throws {
            try await Self.live { port in
                let request = "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n"
                let parsed = try #require(Self.parse(try await Self.exchange(Array(request.utf8), port: port)))
                #expect(parsed.status.hasPrefix("HTTP/1.1 431"), "\(parsed.status)")
                #expect(parsed.body["schemas"] == [.string(ScimError.schema)])
                #expect(parsed.body["status"] == "431")
            }
        }

        @Test("after a good request on a kept-alive connection, a refused one still gets its SCIM error; a good one alone is untouched")
        func afterGoodRequest() async throws {
            try await Self.live { port in
                let good = "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\n\r\n"
                let answer = try await Self.exchange(Array((good + "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Bad: \u{7f}\u{01}\r\n\r\n").utf8), port: port)
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(200))")
                let second = try #require(answer.range(of: "HTTP/1.1 400"), "\(answer)")
                let parsed = try #require(Self.parse(String(answer[second.lowerBound...])))
                #expect(parsed.body["scimType"] == "invalidSyntax")
                let alone = try await Self.exchange(Array("GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
                #expect(alone.hasPrefix("HTTP/1.1 200") && !alone.contains("HTTP/1.1 400"))
            }
        }
    }
}
