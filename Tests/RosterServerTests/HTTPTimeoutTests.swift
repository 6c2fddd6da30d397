import Foundation
import HTTPTypes
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    /// Real sockets on 127.0.0.1; every blocking call runs off the cooperative pool (`LoopbackConnection.offPool`).
    @Suite("HTTP timeouts: idle, header-read and body-read")
    struct HTTPTimeoutTests {
        /// Production's shape at test scale: limits of seconds, and a cap of its own where the test needs one.
        static func limits(idle: Int = 30, header: Int = 10, body: Int = 10, connections: Int = 1024) -> HTTPLimits {
            var limits = HTTPLimits()
            limits.idleTimeout = .seconds(idle)
            limits.headerTimeout = .seconds(header)
            limits.bodyTimeout = .seconds(body)
            limits.maxConnections = connections
            return limits
        }

        /// A 2 s limit is met well before this, even with every suite running at once on two cores (a
        /// server or a test thread stalls for seconds then); a client that is never dropped reaches `giveUp`.
        static let margin = Duration.seconds(10)

        static let discovery = "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\n\r\n"

        /// A slow client: sends `opening` at once, then `trickle` a byte every 0.5 s, reading between bytes; stops
        /// after `giveUp`. What came back, and how long after `opening` the server closed (nil: it never did).
        static func trickle(port: Int, opening: String, trickle: String, giveUp: Duration = .seconds(20)) throws -> (answer: String, closedAfter: Duration?) {
            let connection = try LoopbackConnection(port: port)
            let clock = ContinuousClock()
            let start = clock.now
            var lastSend = start
            var received: [UInt8] = []
            var bytes = Array(trickle.utf8)[...]
            connection.send(opening)
            while clock.now - start < giveUp {
                while let chunk = connection.receive(waiting: false) {
                    if chunk.isEmpty { return (String(decoding: received, as: UTF8.self), clock.now - start) }
                    received += chunk
                }
                if clock.now - lastSend >= .milliseconds(500), let byte = bytes.popFirst() {
                    connection.send([byte])
                    lastSend = clock.now
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return (String(decoding: received, as: UTF8.self), nil)
        }

        @Test("a head sent one byte every 0.5 s is answered 408 and closed within the 2 s header limit; another client is answered meanwhile")
        func slowHead() async throws {
            try await Roster.run(live: true, configure: { $0.http = Self.limits(header: 2) }) { roster in
                let port = try #require(roster.port)
                async let slow = LoopbackConnection.offPool {
                    try Self.trickle(port: port, opening: "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\n", trickle: "X-Slow: " + String(repeating: "a", count: 100))
                }
                try await Task.sleep(for: .seconds(1))
                let normal = try await LoopbackConnection.exchange(Array("GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8), port: port)
                #expect(normal.hasPrefix("HTTP/1.1 200"), "\(normal.prefix(100))")
                let (answer, closedAfter) = try await slow
                let after = try #require(closedAfter, "the slow head was never closed")
                #expect(after >= .milliseconds(1_500) && after < Self.margin, "closed after \(after)")
                let parsed = try #require(HeaderBytesTests.parse(answer), "no answer before the close: \(answer.debugDescription)")
                #expect(parsed.status.hasPrefix("HTTP/1.1 408"), "\(parsed.status)")
                #expect(parsed.headers.contains("connection: close") && parsed.headers.contains("content-type: application/scim+json"))
                #expect(parsed.body["schemas"] == [.string(ScimError.schema)])
                #expect(parsed.body["status"] == "408")
            }
        }

        enum Route: String, CaseIterable, Sendable {
            case scim, admin
        }

        @Test("a body sent one byte every 0.5 s is answered 408 (that route's error body) and closed within the 2 s body limit", arguments: Route.allCases)
        func slowBody(route: Route) async throws {
            try await Roster.run(live: true, configure: { $0.http = Self.limits(body: 2) }) { roster in
                let port = try #require(roster.port)
                let head =
                    switch route {
                    case .scim: "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(roster.scimToken)\r\nContent-Type: application/scim+json\r\n"
                    case .admin: "POST /api/v1/tenants HTTP/1.1\r\nHost: x\r\nX-Admin-API-Key: \(roster.adminKey)\r\nContent-Type: application/json\r\n"
                    }
                let (answer, closedAfter) = try await LoopbackConnection.offPool {
                    try Self.trickle(port: port, opening: head + "Content-Length: 200\r\n\r\n{", trickle: String(repeating: " ", count: 199))
                }
                let after = try #require(closedAfter, "the slow body was never closed")
                #expect(after >= .milliseconds(1_500) && after < Self.margin, "closed after \(after)")
                let parsed = try #require(HeaderBytesTests.parse(answer), "no answer before the close: \(answer.debugDescription)")
                #expect(parsed.status.hasPrefix("HTTP/1.1 408"), "\(parsed.status)")
                #expect(parsed.headers.contains("connection: close"))
                switch route {
                case .scim:
                    #expect(parsed.headers.contains("content-type: application/scim+json"))
                    #expect(parsed.body["status"] == "408")
                case .admin:
                    #expect(parsed.headers.contains("content-type: application/json"))
                    #expect(parsed.body["error"]?["code"] == "request_timeout")
                }
            }
        }

        @Test("a kept-alive connection is closed after the 2 s idle limit: one that never sent a byte, and one after its answer", arguments: [false, true])
        func idle(afterRequest: Bool) async throws {
            try await Roster.run(live: true, configure: { $0.http = Self.limits(idle: 2, header: 10) }) { roster in
                let port = try #require(roster.port)
                let (answered, closedAfter) = try await LoopbackConnection.offPool { () throws -> (String?, Duration?) in
                    let connection = try LoopbackConnection(port: port)
                    var answer: String?
                    if afterRequest {
                        connection.send(Self.discovery)
                        answer = connection.receiveResponse()
                    }
                    let start = ContinuousClock.now
                    return (answer, connection.closedByServer(within: .seconds(12)) ? ContinuousClock.now - start : nil)
                }
                if afterRequest { #expect(answered?.hasPrefix("HTTP/1.1 200") == true, "\(answered ?? "no answer")") }
                let after = try #require(closedAfter, "the idle connection was never closed")
                #expect(after >= .milliseconds(1_500) && after < Self.margin, "closed after \(after)")
            }
        }

        @Test("the header limit runs from a request's first byte: a connection quiet for longer than it is still served")
        func headerClockStartsAtFirstByte() async throws {
            try await Roster.run(live: true, configure: { $0.http = Self.limits(idle: 10, header: 1) }) { roster in
                let port = try #require(roster.port)
                let answer = try await LoopbackConnection.offPool { () throws -> String? in
                    let connection = try LoopbackConnection(port: port)
                    Thread.sleep(forTimeInterval: 2)
                    connection.send(Self.discovery)
                    return connection.receiveResponse()
                }
                #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "no answer")")
            }
        }

        @Test("requests within the limits are untouched: a 2 MiB Bulk within a 2 s header limit and the default 30 s body limit, and the Bulk limits still answer 413")
        func withinLimits() async throws {
            try await Roster.run(live: true, configure: { $0.http = Self.limits(idle: 10, header: 2, body: 30, connections: 8) }) { roster in
                func bulk(_ operations: [String]) async throws -> Reply {
                    try await roster.scim(.post, "/Bulk", body: #"""
                        {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[\#(operations.joined(separator: ","))]}
                        """#)
                }
                // Large in bytes, light in work: the live test client gives up on an answer after a few seconds. The body
                // limit is production's: with every suite at once on two cores, reading 16 MiB took the server over 5 s.
                let title = String(repeating: "t", count: 200 * 1024)
                let large = (0..<10).map { #"{"method":"POST","path":"/Users","bulkId":"u\#($0)","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"big\#($0)","title":"\#(title)"}}"# }
                let reply = try await bulk(large)
                #expect(reply.status == .ok, "\(reply.body.prefix(300))")
                #expect(reply.json["Operations"]?.arrayValue?.compactMap { $0["status"]?.stringValue } == Array(repeating: "201", count: 10))
                let one = #"{"method":"DELETE","path":"/Users/\#(UUID())"}"#
                try await bulk(Array(repeating: one, count: BulkRequest.maxOperations + 1)).expectScimError(.contentTooLarge, "tooMany")
                let padding = String(repeating: "x", count: BulkRequest.maxPayloadSize)
                try await bulk([#"{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"\#(padding)"}}"#])
                    .expectScimError(.contentTooLarge, "tooLarge")
            }
        }
    }
}
