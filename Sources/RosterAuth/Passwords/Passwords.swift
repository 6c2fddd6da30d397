import Dispatch
import HummingbirdBcrypt
import Synchronization

/// Admin passwords, hashed with bcrypt (salted, cost 12 by default: about a quarter of a second per hash
/// on one core here, so a stolen hash is slow to guess and a login is still quick).
public struct PasswordHasher: Sendable {
    /// Checks a password against a stored hash; synchronous and slow, so it runs off the cooperative pool.
    public typealias Verifier = @Sendable (_ password: String, _ hash: String) -> Bool

    /// bcrypt's own check.
    public static let bcrypt: Verifier = { password, hash in Bcrypt.verify(password, hash: hash) }

    /// log2 of bcrypt's rounds; each step doubles the time.
    public let cost: UInt8
    private let verifier: Verifier

    public static let defaultCost: UInt8 = 12
    /// Shorter passwords are refused; bcrypt reads only the first 72 bytes, so longer ones are refused too.
    public static let lengths = 12...72

    public init(cost: UInt8 = PasswordHasher.defaultCost, verifier: @escaping Verifier = PasswordHasher.bcrypt) {
        precondition((4...31).contains(cost), "bcrypt cost must be 4...31")
        self.cost = cost
        self.verifier = verifier
    }

    /// Whether a password is acceptable; the reason when it is not.
    public static func problem(with password: String) -> String? {
        let bytes = password.utf8.count
        if bytes < lengths.lowerBound { return "A password needs at least \(lengths.lowerBound) characters." }
        if bytes > lengths.upperBound { return "A password may be at most \(lengths.upperBound) bytes (bcrypt reads no further)." }
        return nil
    }

    public func hash(_ password: String) async -> String {
        let cost = cost
        return await Self.offCooperativePool { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async -> Bool {
        let verifier = verifier
        return await Self.offCooperativePool { verifier(password, hash) }
    }

    /// A hash to verify against when there is no account, so an unknown email costs as long as a wrong
    /// password. Made once per cost (hashing it anew would make an unknown email cost twice as long).
    public func decoy() async -> String {
        if let hash = Self.decoys.withLock({ $0[cost] }) { return hash }
        let hash = await hash("roster-decoy-password")
        Self.decoys.withLock { $0[cost] = hash }
        return hash
    }

    private static let decoys = Mutex<[UInt8: String]>([:])

    /// bcrypt is deliberately slow: run it on a Dispatch thread, not on a Swift concurrency thread.
    private static func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: work()) }
        }
    }
}
