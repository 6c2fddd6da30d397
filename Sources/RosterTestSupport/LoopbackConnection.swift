import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The C calls, under names the connection's own `close` and `send` do not shadow.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }
private func sendBytes(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int { send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }

/// A blocking TCP connection to 127.0.0.1, for tests that speak raw HTTP bytes (slow clients, refused
/// heads, held connections). Its calls block: run them through `offPool`, never on the cooperative pool,
/// where a blocked `recv` would starve the server under test, whose handlers run there too.
public final class LoopbackConnection: @unchecked Sendable {
    public struct NotConnected: Error {}

    private let fd: Int32

    /// Connects to 127.0.0.1:`port`; each `receive` waits at most `receiveTimeout` (long: with every suite running
    /// at once on two cores a server may take seconds to answer; only a failing test waits it out).
    public init(port: Int, receiveTimeout: Duration = .seconds(15)) throws {
        fd = try Self.connectedSocket(port: port)
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// A socket connected to 127.0.0.1:`port`, or an error with the socket already closed. Not done in `init`: a class
    /// initializer that throws once every property is set still runs `deinit`, and that second close reached whatever
    /// descriptor another thread had opened meanwhile under the same number (a refused connect is common here: the
    /// CLI tests poll a port until `roster serve` listens). Whole test runs were seen waiting for ever so, tests stuck
    /// with no database connection left.
    private static func connectedSocket(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NotConnected() }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            closeDescriptor(fd)
            throw NotConnected()
        }
        return fd
    }

    // The descriptor is released only here, when nothing can use it any more. Closing it earlier, while another
    // thread may still send or receive on it, let that thread's next call reach whatever socket the process
    // opened next under the same number (a PostgreSQL connection of another test, whose pool then waited forever).
    deinit { closeDescriptor(fd) }

    /// Ends the connection both ways (the server sees it closed, a blocked `receive` returns); the
    /// descriptor itself stays reserved until this object is gone.
    public func close() {
        _ = shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Sends all of `bytes`; false once the server has closed (the rest is not sent).
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { sendBytes(fd, $0) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// What arrives next: bytes, `[]` once the server closed (or reset) the connection, nil when nothing came in time.
    public func receive(waiting: Bool = true) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &buffer, buffer.count, waiting ? 0 : Int32(MSG_DONTWAIT))
        if n > 0 { return Array(buffer[..<n]) }
        if n == 0 || errno == ECONNRESET { return [] }
        return nil
    }

    /// Everything until the server closes or a receive times out.
    public func receiveUntilClosed() -> String {
        var received: [UInt8] = []
        while let bytes = receive(), !bytes.isEmpty { received += bytes }
        return String(decoding: received, as: UTF8.self)
    }

    /// One whole response (its head, then `Content-Length` bytes of body), leaving the connection open; nil if none came.
    public func receiveResponse() -> String? {
        var received: [UInt8] = []
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let split = text.range(of: "\r\n\r\n") {
                let head = text[..<split.lowerBound].lowercased()
                let length = head.components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text[split.upperBound...].utf8.count >= length { return text }
            }
            guard let bytes = receive(), !bytes.isEmpty else { return nil }
            received += bytes
        }
    }

    /// Whether the server has closed the connection, waiting at most `within` for it.
    public func closedByServer(within: Duration) -> Bool {
        let end = ContinuousClock.now + within
        while ContinuousClock.now < end {
            switch receive(waiting: false) {
            case .some([]): return true
            case .some: continue
            case .none: Thread.sleep(forTimeInterval: 0.02)
            }
        }
        return false
    }

    /// Sends `request` on a fresh connection and reads until the server closes (or 15 s pass without a byte), off the cooperative pool.
    public static func exchange(_ request: [UInt8], port: Int) async throws -> String {
        try await offPool {
            let connection = try LoopbackConnection(port: port)
            connection.send(request)  // the server may close once it has refused the head
            return connection.receiveUntilClosed()
        }
    }

    /// Runs blocking socket work on a thread of its own.
    public static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// A port nothing listens on now (the kernel's pick for a socket bound to port 0).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { closeDescriptor(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw NotConnected() }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
