import Foundation
import Hummingbird
import Logging
import RosterStore
import ServiceLifecycle
import RosterAuth
import SCIM
import Synchronization

/// Entries of the provisioning log waiting to be written: a bounded buffer, drained by `ProvisioningLogService`
/// about once a second in one statement, so a SCIM request never waits on its own log entry.
final class ProvisioningRecorder: Sendable {
    /// Past this many waiting entries (the database is down or slow), new ones are dropped and counted.
    let capacity: Int
    private let state = Mutex<(entries: [ProvisioningEntry], dropped: Int)>(([], 0))

    init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    func add(_ entry: ProvisioningEntry) {
        state.withLock { state in
            if state.entries.count < capacity { state.entries.append(entry) } else { state.dropped += 1 }
        }
    }

    /// Everything waiting, and how many entries were dropped since the last drain.
    func drain() -> (entries: [ProvisioningEntry], dropped: Int) {
        state.withLock { state in
            defer { state = ([], 0) }
            return state
        }
    }
}

/// Records every `/scim/v2` request a valid token made (after `ScimAuthMiddleware`, before the rate limit, so a 429
/// is recorded too): method, path and query with secrets masked, status, a failure's SCIM type and detail as the
/// client was answered, User-Agent, latency. Never a body.
struct ProvisioningLogMiddleware: RouterMiddleware {
    typealias Context = ScimRequestContext
    let recorder: ProvisioningRecorder

    static let maxPath = 1024
    static let maxUserAgent = 256
    static let maxDetail = 1024
    /// `Problem` logs what it maps; the error middleware logs each error once, so this second mapping stays quiet.
    private static let quiet = Logger(label: "roster.provisioning-log", factory: { _ in SwiftLogNoOpLogHandler() })

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else { return try await next(request, context) }
        let occurred = Date()
        let start = ContinuousClock.now
        func record(status: Int, scimType: String? = nil, detail: String? = nil) {
            let elapsed = ContinuousClock.now - start
            let requestID: String? = if case .string(let id) = context.logger[metadataKey: "request_id"] { id } else { nil }
            recorder.add(ProvisioningEntry(
                tenantID: principal.tenantID, occurred: occurred, tokenID: principal.tokenID, method: request.method.rawValue,
                path: SecretMask.masked(String(request.uri.description.prefix(Self.maxPath))), status: status, scimType: scimType,
                detail: detail.map { SecretMask.masked(String($0.prefix(Self.maxDetail))) },
                userAgent: request.headers[.userAgent].map { SecretMask.masked(String($0.prefix(Self.maxUserAgent))) },
                latencyMilliseconds: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000),
                requestID: requestID))
        }
        do {
            let response = try await next(request, context)
            record(status: Int(response.status.code))
            return response
        } catch is CredentialNotLive {
            // The cached token turned out revoked: answered 401 as an unknown token, and not the tenant's to see.
            throw CredentialNotLive()
        } catch {
            let (underlying, _) = ErrorWithHeaders.unwrap(error)
            let reading = request.method == .get || request.method == .head || request.uri.path.hasSuffix("/.search")
            let problem = Problem(underlying, reading: reading, logger: Self.quiet)
            record(status: problem.status, scimType: problem.scimType?.rawValue, detail: problem.message)
            throw error
        }
    }
}

/// Masks credentials a client put where they do not belong (a query's `access_token`, a header it echoes):
/// Roster's own secret kinds keep their prefix, a JWT keeps `eyJ`; the rest becomes `…`.
enum SecretMask {
    static let prefixes = ["scim_", "radm_", "rrt_", "rset_", "eyJ"]

    static func masked(_ text: String) -> String {
        guard prefixes.contains(where: text.contains) else { return text }
        var result = ""
        var rest = Substring(text)
        while let range = prefixes.compactMap({ rest.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            result += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            let secret = rest.prefix(while: isSecretCharacter)
            if !secret.isEmpty {
                result += "…"
                rest = rest[secret.endIndex...]
            }
        }
        return result + rest
    }

    /// Base64url, a JWT's dots, and what percent-encoding adds.
    private static func isSecretCharacter(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue else { return false }
        return (ascii >= 0x30 && ascii <= 0x39) || (ascii >= 0x41 && ascii <= 0x5A) || (ascii >= 0x61 && ascii <= 0x7A) || "-_.~%".contains(character)
    }
}

/// Writes the provisioning log's waiting entries about once a second, and prunes it by age and per-tenant size once
/// an hour (a minute after start). Every process runs it; a stop writes what is waiting first.
struct ProvisioningLogService: Service, CustomStringConvertible {
    var description: String { "ProvisioningLogService" }

    let recorder: ProvisioningRecorder
    let log: ProvisioningLog
    let retention: Duration
    let maxRowsPerTenant: Int
    let logger: Logger
    var flushInterval: Duration = .seconds(1)
    var pruneInterval: Duration = .seconds(3600)
    /// Rows per INSERT.
    var batch = 1000

    func run() async throws {
        var nextPrune = ContinuousClock.now + .seconds(60)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: flushInterval) }
            await flush()
            if ContinuousClock.now >= nextPrune {
                nextPrune = ContinuousClock.now + pruneInterval
                await prune()
            }
        }
        await flush()
    }

    func flush() async {
        let (entries, dropped) = recorder.drain()
        if dropped > 0 {
            logger.warning("Provisioning log: entries dropped while the buffer was full", metadata: ["dropped": "\(dropped)"])
        }
        var index = entries.startIndex
        while index < entries.endIndex {
            let end = min(index + batch, entries.endIndex)
            do {
                try await log.record(Array(entries[index..<end]))
            } catch {
                logger.warning(
                    "Provisioning log: could not write entries; they are dropped",
                    metadata: ["entries": "\(end - index)", "error": "\(String(reflecting: type(of: error)))"])
            }
            index = end
        }
    }

    func prune() async {
        do {
            let deleted = try await log.prune(olderThan: retention, keep: maxRowsPerTenant)
            if deleted > 0 { logger.info("Provisioning log: deleted old entries", metadata: ["entries": "\(deleted)"]) }
        } catch {
            logger.warning("Provisioning log: could not delete old entries; trying again later", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
    }
}
