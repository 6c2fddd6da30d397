import RosterOutbound
import Synchronization

/// Fixed answers per name; a name it does not know has no address.
struct StubResolver: HostResolver {
    var answers: [String: [String]]

    func addresses(of host: String) async -> [IPAddress] {
        (answers[host.lowercased()] ?? []).compactMap { IPAddress(standard: $0) }
    }
}

/// Answers `first` to the first question and `later` to every one after (DNS rebinding), counting questions.
final class RebindingResolver: HostResolver {
    let first: [IPAddress]
    let later: [IPAddress]
    private let asked = Mutex(0)

    init(first: String, later: String) {
        self.first = [IPAddress(standard: first)!]
        self.later = [IPAddress(standard: later)!]
    }

    var questions: Int { asked.withLock { $0 } }

    func addresses(of host: String) async -> [IPAddress] {
        asked.withLock { count in
            count += 1
            return count == 1 ? first : later
        }
    }
}
