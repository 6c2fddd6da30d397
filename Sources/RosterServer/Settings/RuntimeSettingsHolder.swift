import Foundation
import Logging
import RosterAuth
import RosterFeed
import RosterStore
import SCIM
import ServiceLifecycle
import Synchronization

/// The runtime settings every request reads: set from the database at start, by this replica's own PUT at
/// once, and by `RuntimeSettingsRefresher` within its interval after another replica's.
final class RuntimeSettingsHolder: Sendable {
    let baseline: SettingsBaseline
    let repository: RuntimeSettingsRepository
    private let state: Mutex<State>

    private struct State {
        var current: CurrentSettings
        /// A version this process could not apply (logged once, not at every poll).
        var refused: Int64?
    }

    /// Starts from the process configuration alone (version 0) until the database is read.
    init(baseline: SettingsBaseline, repository: RuntimeSettingsRepository) throws {
        self.baseline = baseline
        self.repository = repository
        state = Mutex(State(current: try CurrentSettings(RuntimeSettings(), version: 0, baseline: baseline)))
    }

    var current: CurrentSettings { state.withLock { $0.current } }
    var pageSizes: Pagination.Limits { state.withLock { $0.current.pageSizes } }
    var retrySchedule: RetrySchedule { state.withLock { $0.current.retrySchedule } }
    var oidc: OIDCVerifier? { state.withLock { $0.current.oidc } }

    /// Resolves a stored document against this process's baseline; throws (a 400 naming the field) when it cannot be used.
    func resolve(_ stored: StoredSettings) throws -> CurrentSettings {
        let document = try JSONDecoder().decode(RuntimeSettings.self, from: JSONValue.object(stored.document).encoded())
        return try CurrentSettings(document, version: stored.version, baseline: baseline, previous: current)
    }

    /// Takes `settings` unless what the holder has is as new or newer (a slow poll never undoes a PUT).
    @discardableResult
    func apply(_ settings: CurrentSettings) -> Bool {
        state.withLock { state in
            guard settings.version > state.current.version else { return false }
            state.current = settings
            return true
        }
    }

    /// Reads the database's settings when they changed since what this process holds, and applies them.
    func refresh(logger: Logger) async throws {
        guard let stored = try await repository.changed(since: current.version) else { return }
        do {
            apply(try resolve(stored))
        } catch {
            // Another replica accepted it, so this one's process configuration differs (insecure loopback JWKS).
            let first = state.withLock { state in
                defer { state.refused = stored.version }
                return state.refused != stored.version
            }
            if first {
                logger.error(
                    "Runtime settings cannot be applied here; this process keeps the previous ones",
                    metadata: ["version": "\(stored.version)", "reason": "\((error as? AdminError)?.message ?? String(reflecting: type(of: error)))"])
            }
        }
    }
}

/// Keeps the holder current: reads the settings row every `interval` (one primary-key row, its document
/// only when the version moved), so each replica sees another's PUT within about that long.
struct RuntimeSettingsRefresher: Service, CustomStringConvertible {
    let holder: RuntimeSettingsHolder
    let interval: Duration
    let logger: Logger

    var description: String { "RuntimeSettingsRefresher" }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await holder.refresh(logger: logger)
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("Runtime settings: could not read them; trying again", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
