public import Foundation
public import Hummingbird
import Logging
import NIOCore
import SCIM
import Testing

/// An identity provider's JWKS endpoint on loopback: serves the keys it is given and counts fetches.
public actor JWKSServer {
    public private(set) var fetches = 0
    private var keys: [TestIssuerKey] = []
    private var status: HTTPResponse.Status = .ok
    private var location: URL?

    public func publish(_ keys: [TestIssuerKey]) { self.keys = keys }
    public func fail(with status: HTTPResponse.Status) { self.status = status }
    /// Answers every fetch with 302 Found to `url` (an issuer, or an attacker, pointing the fetch elsewhere).
    public func redirect(to url: URL) { location = url }

    fileprivate func answer() -> (HTTPResponse.Status, HTTPFields, Data) {
        fetches += 1
        if let location { return (.found, [.location: location.absoluteString], Data()) }
        let document: JSONValue = ["keys": .array(keys.map(\.publicJWK))]
        return (status, [.contentType: "application/json"], document.encoded())
    }

    /// Runs `body` with a server listening at the JWKS URL it is given (http://127.0.0.1:<port>/jwks.json).
    public static func run<T: Sendable>(publishing keys: [TestIssuerKey], _ body: @Sendable (JWKSServer, URL) async throws -> T) async throws -> T {
        let server = JWKSServer()
        await server.publish(keys)
        let router = Router()
        router.get("jwks.json") { _, _ -> Response in
            let (status, headers, document) = await server.answer()
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        // Cancelling the server at the end of a test is how it stops, not an error worth printing.
        var quiet = Logger(label: "jwks-server")
        quiet.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.yield(channel.localAddress?.port ?? 0) }, logger: quiet)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            let bound = try #require(await iterator.next())
            defer { group.cancelAll() }
            return try await body(server, try #require(URL(string: "http://127.0.0.1:\(bound)/jwks.json")))
        }
    }
}
