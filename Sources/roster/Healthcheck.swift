import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The container's health check, so the runtime image needs no curl: `GET /api/health/live` on this machine,
/// exit 0 on a 2xx answer and 1 on anything else (no answer, a refused connection, a timeout, another status).
struct Healthcheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 when a Roster answers GET /api/health/live with 2xx (for container health checks), 1 otherwise.")

    @Option(help: "The URL to check: plain http (default http://127.0.0.1:<ROSTER_PORT or 8080>/api/health/live).")
    var url: String?

    @Option(help: "Seconds to wait for the answer.") var timeout = 5

    func validate() throws {
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout must be 1…300 seconds.") }
    }

    func run() async throws {
        let serverPort = CommandIO.current.environment["ROSTER_PORT"].flatMap { Int($0) } ?? 8080
        let target = url ?? "http://127.0.0.1:\(serverPort)/api/health/live"
        guard let components = URLComponents(string: target), components.scheme == "http", let host = components.host, !host.isEmpty else {
            throw ValidationError("--url must be a plain http URL, e.g. http://127.0.0.1:8080/api/health/live.")
        }
        let path = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let seconds = timeout
        let port = components.port ?? 80
        // Blocking socket calls, off the cooperative pool.
        let status = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: HealthProbe.statusCode(host: host, port: port, path: path, timeout: seconds))
            }
        }
        switch status {
        case .success(let code) where (200..<300).contains(code):
            say("healthy: \(target) answered \(code)")
        case .success(let code):
            throw CLIFailure("unhealthy: \(target) answered \(code)")
        case .failure(let reason):
            throw CLIFailure("unhealthy: \(target): \(reason.description)")
        }
    }
}

/// One HTTP/1.1 request over a plain socket: the whole client a health check needs.
enum HealthProbe {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func statusCode(host: String, port: Int, path: String, timeout: Int) -> Result<Int, Failure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var addresses: UnsafeMutablePointer<addrinfo>?
        // Brackets are URL syntax only (an IPv6 literal).
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(name, String(port), &hints, &addresses) == 0, let first = addresses else {
            return .failure(Failure(description: "cannot resolve \(host)"))
        }
        defer { freeaddrinfo(addresses) }
        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var limit = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: roster-healthcheck\r\nConnection: close\r\n\r\n".utf8)
            guard send(fd, request, request.count, 0) == request.count else { return .failure(Failure(description: "the request could not be sent")) }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 512)
            // The status line is all it reads.
            while !received.contains(UInt8(ascii: "\n")) && received.count < 4096 {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                received += buffer[..<count]
            }
            let line = String(decoding: received, as: UTF8.self).split(separator: "\r\n", maxSplits: 1).first ?? ""
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
                return .failure(Failure(description: received.isEmpty ? "no answer within \(timeout) s" : "the answer is not HTTP"))
            }
            return .success(code)
        }
        return .failure(Failure(description: "cannot connect (\(lastError))"))
    }
}
