import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a host name into the addresses a connection may go to. The outbound policy asks it once per
/// request and connects only to what it answered and the policy checked.
public protocol HostResolver: Sendable {
    /// The name's addresses; empty when it has none (or the lookup timed out).
    func addresses(of host: String) async -> [IPAddress]
}

/// The system resolver (getaddrinfo, so /etc/hosts and the configured DNS), bounded in time.
public struct SystemResolver: HostResolver {
    public var timeout: Duration

    public init(timeout: Duration = .seconds(5)) {
        self.timeout = timeout
    }

    public func addresses(of host: String) async -> [IPAddress] {
        // getaddrinfo blocks and cannot be cancelled: it runs on its own thread, and a slow answer is abandoned.
        let answer = OneShot<[IPAddress]>()
        let timer = Task { [timeout] in
            try? await Task.sleep(for: timeout)
            answer.give([])
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            answer.onAnswer { _ in continuation.resume() }
            Thread.detachNewThread { answer.give(Self.lookup(host)) }
        }
        timer.cancel()
        return answer.value ?? []
    }

    static func lookup(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let address = IPAddress(socketAddress: info.pointee.ai_addr), !addresses.contains(address) { addresses.append(address) }
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}

extension IPAddress {
    /// The address a `sockaddr_in` or `sockaddr_in6` holds.
    init?(socketAddress: UnsafeMutablePointer<sockaddr>?) {
        guard let socketAddress else { return nil }
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            let value = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            self = .v4(UInt32(bigEndian: value))
        case AF_INET6:
            let bytes = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
            }
            self = .v6(bytes.reduce(UInt128(0)) { ($0 << 8) | UInt128($1) })
        default:
            return nil
        }
    }
}

/// A value given once, by whichever of several racers comes first.
final class OneShot<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiter: (@Sendable (Value) -> Void)?)>((nil, nil))

    var value: Value? { state.withLock { $0.value } }

    func onAnswer(_ waiter: @escaping @Sendable (Value) -> Void) {
        let ready = state.withLock { state -> Value? in
            if let value = state.value { return value }
            state.waiter = waiter
            return nil
        }
        if let ready { waiter(ready) }
    }

    func give(_ value: Value) {
        let waiter = state.withLock { state -> (@Sendable (Value) -> Void)? in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?(value)
    }
}
