import Synchronization

/// Connections leased by Roster code at this moment, counted around every lease (`RosterDatabase.withConnection`).
final class ConnectionLeases: Sendable {
    private let count = Atomic<Int>(0)

    func acquired() { count.add(1, ordering: .relaxed) }
    func released() { count.subtract(1, ordering: .relaxed) }
    var current: Int { count.load(ordering: .relaxed) }
}
