public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
public import NIOHTTP1
import NIOPosix

/// Makes one request under the outbound policy: the host is resolved once, every address checked, and
/// the connection goes to a checked address (TLS still verifies and sends SNI for the host name), so a
/// name that answers differently the second time (DNS rebinding) changes nothing. Redirects are never
/// followed; time and the answer's size are bounded.
public struct OutboundClient: Sendable {
    public var policy: OutboundPolicy
    public var connectTimeout: Duration
    /// The whole request, resolution and the answer's body included.
    public var timeout: Duration
    public var maximumResponseSize: Int
    /// true: keep the first `maximumResponseSize` bytes of a larger answer; false: a larger answer fails.
    public var truncatesLargeResponses: Bool

    /// At most this many of a name's addresses are tried, each only when the one before could not be connected to.
    static let addressesTried = 3

    public init(
        policy: OutboundPolicy, connectTimeout: Duration = .seconds(5), timeout: Duration, maximumResponseSize: Int,
        truncatesLargeResponses: Bool
    ) {
        self.policy = policy
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.maximumResponseSize = maximumResponseSize
        self.truncatesLargeResponses = truncatesLargeResponses
    }

    public func execute(_ request: HTTPClientRequest, logger: Logger? = nil) async throws(OutboundFailure) -> OutboundResponse {
        let deadline = NIODeadline.now() + .nanoseconds(timeout.wholeNanoseconds)
        let url: OutboundURL
        switch policy.check(request.url) {
        case .failure(let refusal): throw .refused(refusal)
        case .success(let checked): url = checked
        }
        let target: OutboundTarget
        switch await policy.target(for: url) {
        case .failure(let refusal): throw .refused(refusal)
        case .success(let checked): target = checked
        }
        var failure = OutboundFailure.timedOut
        for address in target.addresses.prefix(Self.addressesTried) where NIODeadline.now() < deadline {
            do {
                return try await send(request, to: address, of: url, deadline: deadline, logger: logger)
            } catch let error {
                failure = error
                guard case .unreachable = error else { throw error }
            }
        }
        throw failure
    }

    /// One request over a client of its own whose only route to the host is `address`.
    private func send(
        _ request: HTTPClientRequest, to address: IPAddress, of url: OutboundURL, deadline: NIODeadline, logger: Logger?
    ) async throws(OutboundFailure) -> OutboundResponse {
        let connect = min(TimeAmount.nanoseconds(connectTimeout.wholeNanoseconds), deadline - NIODeadline.now())
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: connect))
        configuration.decompression = .disabled
        // The host name maps to the checked address: AHC connects to it without resolving, and keeps the name for SNI and Host.
        if url.literal == nil { configuration.dnsOverride = [url.host: address.description] }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let result: Result<OutboundResponse, OutboundFailure>
        do {
            let response = try await client.execute(request, deadline: deadline, logger: logger)
            let (body, truncated) = try await read(response.body, until: deadline)
            result = .success(OutboundResponse(status: Int(response.status.code), headers: response.headers, body: body, truncated: truncated))
        } catch let error as OutboundFailure {
            result = .failure(error)
        } catch {
            result = .failure(OutboundFailure(error))
        }
        try? await client.shutdown()
        return try result.get()
    }

    /// At most `maximumResponseSize` bytes of the body, within the deadline.
    private func read(_ body: HTTPClientResponse.Body, until deadline: NIODeadline) async throws -> ([UInt8], Bool) {
        let limit = maximumResponseSize, truncates = truncatesLargeResponses
        return try await withThrowingTaskGroup(of: ([UInt8], Bool)?.self) { group in
            group.addTask {
                var bytes: [UInt8] = []
                for try await chunk in body {
                    bytes += chunk.readableBytesView
                    if bytes.count > limit {
                        guard truncates else { throw OutboundFailure.tooLarge(limit) }
                        return (Array(bytes.prefix(limit)), true)
                    }
                }
                return (bytes, false)
            }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(max(0, (deadline - NIODeadline.now()).nanoseconds)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let read = first else { throw OutboundFailure.timedOut }
            return read
        }
    }
}

/// A request's answer; `body` holds at most the client's `maximumResponseSize` bytes.
public struct OutboundResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The answer was longer than the bytes kept.
    public var truncated: Bool

    /// Why the status is not a success, for a delivery log or an error: 3xx says the redirect was not followed.
    public var statusProblem: String? {
        switch status {
        case 200..<300: nil
        case 300..<400: "HTTP \(status): a redirect, which is not followed"
        default: "HTTP \(status)"
        }
    }
}

/// Why an outbound request failed, in words that say nothing of its content.
public enum OutboundFailure: Error, Sendable, CustomStringConvertible {
    case refused(OutboundRefusal)
    /// No connection could be made to the address (refused, unreachable, or the connect timed out).
    case unreachable(String)
    case timedOut
    case tooLarge(Int)
    case failed(String)

    init(_ error: any Error) {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: self = .unreachable("the connection timed out")
            case .deadlineExceeded, .readTimeout, .writeTimeout: self = .timedOut
            case .remoteConnectionClosed: self = .failed("connection closed by the receiver")
            default: self = .failed("HTTP client error: \(error)")
            }
        } else if let error = error as? IOError, [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode) {
            self = .unreachable("connection failed: \(error)")
        } else if error is NIOConnectionError {
            self = .unreachable("connection failed: \(error)")
        } else if case .connectTimeout? = error as? ChannelError {
            self = .unreachable("the connection timed out")
        } else if error is CancellationError {
            self = .timedOut
        } else {
            self = .failed("connection failed: \(error)")
        }
    }

    public var description: String {
        switch self {
        case .refused(let refusal): refusal.description
        case .unreachable(let reason), .failed(let reason): reason
        case .timedOut: "timed out"
        case .tooLarge(let limit): "the answer is larger than \(limit) bytes"
        }
    }
}

extension Duration {
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
