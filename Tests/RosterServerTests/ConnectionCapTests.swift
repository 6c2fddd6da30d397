import Foundation
import HTTPTypes
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    /// Real sockets on 127.0.0.1; every blocking call runs off the cooperative pool (`LoopbackConnection.offPool`).
    @Suite("HTTP connection cap per process")
    struct ConnectionCapTests {
        @Test("with a cap of 4 connections the 5th is answered 503 with Retry-After (SCIM or admin body), a health probe is still served, and a 6th is served once one closes")
        func connectionCap() async throws {
            try await Roster.run(live: true, configure: { $0.http = HTTPTimeoutTests.limits(connections: 4) }) { roster in
                let port = try #require(roster.port)
                // The test client's own kept-alive connection is the first of the four.
                #expect(try await roster.send(.get, "/api/health/live").status == .ok)
                let held = try await LoopbackConnection.offPool { () throws -> [(LoopbackConnection, String?)] in
                    try (0..<3).map { _ in
                        let connection = try LoopbackConnection(port: port)
                        connection.send(HTTPTimeoutTests.discovery)
                        return (connection, connection.receiveResponse())
                    }
                }
                for (_, answer) in held { #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "no answer")") }
                let refused = try #require(HeaderBytesTests.parse(try await LoopbackConnection.exchange(Array(HTTPTimeoutTests.discovery.utf8), port: port)))
                #expect(refused.status.hasPrefix("HTTP/1.1 503"), "\(refused.status)")
                #expect(refused.headers.contains("retry-after: 1") && refused.headers.contains("connection: close"))
                #expect(refused.headers.contains("content-type: application/scim+json"))
                #expect(refused.body["status"] == "503")
                let admin = try #require(HeaderBytesTests.parse(try await LoopbackConnection.exchange(
                    Array("GET /api/v1/tenants HTTP/1.1\r\nHost: x\r\nX-Admin-API-Key: \(roster.adminKey)\r\n\r\n".utf8), port: port)))
                #expect(admin.status.hasPrefix("HTTP/1.1 503") && admin.headers.contains("content-type: application/json"), "\(admin.status)")
                #expect(admin.body["error"]?["code"] == "unavailable")
                let probe = try await LoopbackConnection.exchange(Array("GET /api/health/live HTTP/1.1\r\nHost: x\r\n\r\n".utf8), port: port)
                #expect(probe.hasPrefix("HTTP/1.1 200") && probe.lowercased().contains("connection: close"), "\(probe.prefix(200))")

                held[0].0.close()
                let served = try await LoopbackConnection.offPool { () throws -> Bool in
                    for _ in 0..<30 {  // the server frees the slot when it sees the close, a moment later
                        let connection = try LoopbackConnection(port: port)
                        connection.send(HTTPTimeoutTests.discovery)
                        if connection.receiveResponse()?.hasPrefix("HTTP/1.1 200") == true { return true }
                        Thread.sleep(forTimeInterval: 0.1)
                    }
                    return false
                }
                #expect(served, "no connection was served after one of the four closed")
                held.forEach { $0.0.close() }
            }
        }

        @Test("past the cap and the connections held to answer it, a connection is closed at accept")
        func closedAtAccept() async throws {
            let limits = HTTPTimeoutTests.limits(connections: 2)
            try await Roster.run(live: true, configure: { $0.http = limits }) { roster in
                let port = try #require(roster.port)
                #expect(try await roster.send(.get, "/api/health/live").status == .ok)
                let closed = try await LoopbackConnection.offPool { () throws -> Bool in
                    let served = try LoopbackConnection(port: port)
                    served.send(HTTPTimeoutTests.discovery)
                    _ = served.receiveResponse()
                    // Held past the cap, sending nothing (each waits up to the 10 s header limit for a head).
                    let waiting = try (0..<limits.overflowConnections).map { _ in try LoopbackConnection(port: port) }
                    Thread.sleep(forTimeInterval: 0.5)
                    let last = try LoopbackConnection(port: port)
                    defer { (waiting + [served]).forEach { $0.close() } }
                    return last.closedByServer(within: .seconds(2))
                }
                #expect(closed, "a connection past every limit was not closed at once")
            }
        }
    }
}
