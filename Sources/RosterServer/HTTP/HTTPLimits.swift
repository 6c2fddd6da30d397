import Configuration
import Foundation

/// How long a client may take over each part of a request, and how many connections one process holds
/// (`ROSTER_HTTP_*`). Byte limits alone do not bound a connection's life: a client that sends one byte a
/// second stays under every size limit and, under NIO's idle handler (each byte resets it), forever.
public struct HTTPLimits: Sendable, Equatable {
    /// A kept-alive connection with no request under way and no response owed is closed after this.
    public var idleTimeout: Duration = .seconds(60)
    /// A request's head (request line and header fields) must be whole this long after its first byte: else 408.
    public var headerTimeout: Duration = .seconds(10)
    /// A request's body must be whole this long after its head: else 408 (16 MiB at 30 s is 0.5 MiB/s).
    public var bodyTimeout: Duration = .seconds(30)
    /// Connections one process serves at once; past it a connection's request is answered 503 (health probes excepted).
    public var maxConnections = 1024

    public init() {}

    /// Connections past `maxConnections` held just long enough to answer 503 or a health probe; past these, closed at accept.
    public var overflowConnections: Int { max(16, maxConnections / 16) }

    /// Reads `roster.http.*`: `ROSTER_HTTP_IDLE_TIMEOUT_SECONDS`, `ROSTER_HTTP_HEADER_TIMEOUT_SECONDS`,
    /// `ROSTER_HTTP_BODY_TIMEOUT_SECONDS`, `ROSTER_HTTP_MAX_CONNECTIONS`.
    init(reader config: ConfigReader) throws(RosterConfiguration.Invalid) {
        // Read as text: a value that is not a whole number in range is a start error, not the default.
        func number(_ key: String, _ variable: String, _ range: ClosedRange<Int>, unit: String) throws(RosterConfiguration.Invalid) -> Int? {
            guard let text = config.string(forKey: ConfigKey(key)) else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw RosterConfiguration.Invalid(description: "\(variable) must be \(unit), \(range.lowerBound)…\(range.upperBound).")
            }
            return value
        }
        let seconds = "a whole number of seconds"
        if let value = try number("http.idle.timeout.seconds", "ROSTER_HTTP_IDLE_TIMEOUT_SECONDS", 1...86_400, unit: seconds) {
            idleTimeout = .seconds(value)
        }
        if let value = try number("http.header.timeout.seconds", "ROSTER_HTTP_HEADER_TIMEOUT_SECONDS", 1...86_400, unit: seconds) {
            headerTimeout = .seconds(value)
        }
        if let value = try number("http.body.timeout.seconds", "ROSTER_HTTP_BODY_TIMEOUT_SECONDS", 1...86_400, unit: seconds) {
            bodyTimeout = .seconds(value)
        }
        if let value = try number("http.max.connections", "ROSTER_HTTP_MAX_CONNECTIONS", 1...1_000_000, unit: "a number of connections") {
            maxConnections = value
        }
    }
}
