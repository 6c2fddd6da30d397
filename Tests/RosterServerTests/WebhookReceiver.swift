import Foundation
import Hummingbird
import NIOCore
import RosterFeed
import RosterStore
import SCIM
import Testing

/// A webhook receiver on loopback for tests: records every request and answers as `respond`
/// says for the n-th request (0-based).
actor WebhookReceiver {
    struct Received: Sendable {
        var id: String
        var timestamp: Int
        var signature: String
        var body: [UInt8]
        var contentType = ""
        var accept = ""
        var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
        var type: String? { json["type"]?.stringValue }
        var sequence: Int? { json["data"]?["sequence"].flatMap { if case .integer(let n) = $0 { n } else { nil } } }

        /// True when one of the signatures is `secret`'s (Standard Webhooks).
        func signed(by secret: WebhookSecret) -> Bool {
            signature.split(separator: " ").contains { String($0) == WebhookSigner.signature(id: id, timestamp: timestamp, body: body, secret: secret) }
        }
    }

    typealias Responder = @Sendable (Int) async -> (HTTPResponse.Status, HTTPFields)

    private(set) var received: [Received] = []

    func record(_ request: Request, _ body: [UInt8]) -> Int {
        let headers = request.headers
        received.append(Received(
            id: headers[.init("webhook-id")!] ?? "", timestamp: Int(headers[.init("webhook-timestamp")!] ?? "") ?? 0,
            signature: headers[.init("webhook-signature")!] ?? "", body: body, contentType: headers[.contentType] ?? "",
            accept: headers[.accept] ?? ""))
        return received.count - 1
    }

    /// Waits until `count` requests arrived (or the timeout passed) and returns them.
    func wait(for count: Int, timeout: Duration = .seconds(30)) async throws -> [Received] {
        let deadline = ContinuousClock.now + timeout
        while received.count < count && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return received
    }

    /// Runs `body` with a receiver listening at the URL it is given, on `host` (a loopback address).
    static func run<T: Sendable>(
        host: String = "127.0.0.1", respond: @escaping Responder = { _ in (.noContent, [:]) },
        _ body: @Sendable (WebhookReceiver, String) async throws -> T
    ) async throws -> T {
        let receiver = WebhookReceiver()
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let bytes = Array(buffer: try await request.body.collect(upTo: 1 << 24))
            let index = await receiver.record(request, bytes)
            let (status, headers) = await respond(index)
            return Response(status: status, headers: headers)
        }
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: 0)),
            onServerRunning: { channel in port.yield(channel.localAddress?.port ?? 0) })
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            let bound = try #require(await iterator.next())
            defer { group.cancelAll() }
            return try await body(receiver, "http://\(host.contains(":") ? "[\(host)]" : host):\(bound)/hook")
        }
    }
}
