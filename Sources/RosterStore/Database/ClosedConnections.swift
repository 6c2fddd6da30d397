import NIOCore
package import PostgresNIO
import Synchronization

/// A lease's body stopped being waited for: its connection closed and a statement of it never came back.
public struct ConnectionLost: Error, CustomStringConvertible {
    public var description: String { "the database connection closed and a statement sent on it never came back" }
}

/// Keeps a lease from waiting for ever on a connection that has closed.
///
/// PostgresNIO 1.33.2 loses a statement written to a connection whose channel has already closed: the write goes to a
/// pipeline whose handlers are gone, and the statement's promise is never completed, so the task awaiting it waits for
/// ever (measured: 20 of 20 queries sent 5 ms or more after `pg_terminate_backend` never returned). After a failover this
/// left a webhook worker holding its subscription until the process restarted. Statements under way when the connection
/// closes are failed by the connection itself; only one sent after it closed is lost. So each lease runs its body in a
/// task of its own, and once the connection has closed it waits `grace` more for that body, then stops waiting and
/// throws `ConnectionLost` (the body's task, stuck on a promise nobody completes, is left behind: one per lost statement).
enum ClosedConnections {
    /// How long a body may still finish after its connection closed: a statement under way then fails at once.
    static let grace: Duration = .seconds(1)

    static let watch = CloseWatch()

    /// `body(connection)`, or `ConnectionLost` when the connection closed and `body` did not finish within `grace` after.
    /// Task-local values and cancellation carry over to `body`'s task.
    static func run<Result: Sendable>(
        on connection: PostgresConnection, grace: Duration = grace,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let outcome = Outcome<Result>()
        let work = Task {
            do {
                outcome.finish(.success(try await body(connection)))
            } catch {
                outcome.finish(.failure(error))
            }
        }
        let watching = watch.add(connection) {
            Task {
                try? await Task.sleep(for: grace)
                outcome.finish(.failure(ConnectionLost()))
            }
        }
        defer { watch.remove(connection, watching) }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            work.cancel()
        }
    }

    /// The first result given, to the one caller waiting for it.
    final class Outcome<Value: Sendable>: Sendable {
        private enum State {
            case pending(CheckedContinuation<Value, any Error>?)
            case finished(Swift.Result<Value, any Error>)
            case delivered
        }

        private let state = Mutex(State.pending(nil))

        /// Gives `result`, unless one was given before.
        func finish(_ result: Swift.Result<Value, any Error>) {
            let waiting: CheckedContinuation<Value, any Error>? = state.withLock { state in
                guard case .pending(let continuation) = state else { return nil }
                state = continuation == nil ? .finished(result) : .delivered
                return continuation
            }
            waiting?.resume(with: result)
        }

        func value() async throws -> Value {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Swift.Result<Value, any Error>? = state.withLock { state in
                    guard case .finished(let result) = state else {
                        state = .pending(continuation)
                        return nil
                    }
                    state = .delivered
                    return result
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }

    /// Who waits for which connection to close. One callback on each connection's close future, however many leases
    /// it serves (a callback per lease would pile up on a connection that lives for days).
    final class CloseWatch: Sendable {
        private struct Watched {
            /// Held until it closes, so that no other connection can take its address, and its key, meanwhile.
            let connection: PostgresConnection
            var watchers: [Int: @Sendable () -> Void] = [:]
        }

        private struct Watchers {
            var next = 0
            var byConnection: [ObjectIdentifier: Watched] = [:]
        }

        private let state = Mutex(Watchers())

        /// Calls `closed` when `connection` closes (soon, if it has); the number returned stops that (`remove`).
        func add(_ connection: PostgresConnection, closed: @escaping @Sendable () -> Void) -> Int {
            let key = ObjectIdentifier(connection)
            let (number, first) = state.withLock { state in
                state.next &+= 1
                let first = state.byConnection[key] == nil
                state.byConnection[key, default: Watched(connection: connection)].watchers[state.next] = closed
                return (state.next, first)
            }
            if first {
                connection.closeFuture.whenComplete { [self] _ in
                    guard let watched = state.withLock({ $0.byConnection.removeValue(forKey: key) }) else { return }
                    for closed in watched.watchers.values { closed() }
                }
            }
            return number
        }

        func remove(_ connection: PostgresConnection, _ number: Int) {
            let key = ObjectIdentifier(connection)
            state.withLock { state in
                // The entry stays while the connection is open, so its close future gets no second callback.
                _ = state.byConnection[key]?.watchers.removeValue(forKey: number)
            }
        }

        /// Connections watched now (tests).
        var connections: Int { state.withLock { $0.byConnection.count } }
    }
}
