import Foundation
import PostgresNIO

/// Every secret column of the schema at once: sealing the plaintext ones when a key is first configured,
/// re-sealing under the current key (`roster secrets rotate`), and checking that each opens.
public struct StoredSecrets: Sendable {
    /// pg_advisory_xact_lock key for sealing passes: "RstrSeal" in ASCII. Replicas that start together seal once.
    static let passLock: Int64 = 0x5273_7472_5365_616C
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// What a pass found and did.
    public struct Report: Sendable, Equatable {
        /// Secrets that were stored as they are and are now sealed.
        public var sealedFromPlaintext = 0
        /// Secrets sealed under an older key that are now sealed under the current one.
        public var resealed = 0
        /// Secrets still stored as they are (only without a key).
        public var plaintext = 0
        /// Sealed secrets by the key id that sealed them, after the pass.
        public var sealedByKeyID: [String: Int] = [:]

        public init() {}
    }

    /// At `serve` start with a key: seals every secret stored as it is, then opens every sealed one, so a wrong or
    /// missing key stops the start (with the row and key id) instead of a later request.
    public func sealPlaintext(with keyring: SecretKeyring) async throws -> Report {
        var report = Report()
        if try await plaintextRemains() {
            report = try await pass(keyring: keyring, resealingOlderKeys: false)
        }
        let found = try await census(opening: keyring)
        report.sealedByKeyID = found.sealedByKeyID
        report.plaintext = found.plaintext
        return report
    }

    /// `roster secrets rotate`: every secret sealed under the current key, whatever held it before. Idempotent.
    public func rotate(to keyring: SecretKeyring) async throws -> Report {
        var report = try await pass(keyring: keyring, resealingOlderKeys: true)
        report.sealedByKeyID = try await census(opening: keyring).sealedByKeyID
        return report
    }

    /// How secrets are stored now, without a lock; with a keyring, each sealed one is opened (the first that fails throws).
    public func census(opening keyring: SecretKeyring? = nil) async throws -> Report {
        var report = Report()
        for column in SecretColumn.all {
            for row in try await database.query(column.selectAll(forUpdate: false)) {
                let value = try column.decode(row)
                if let sealed = value.sealed {
                    let keyID = try SecretKeyring.keyID(of: sealed, for: value.purpose)
                    if let keyring { _ = try keyring.open(sealed, for: value.purpose) }
                    report.sealedByKeyID[keyID, default: 0] += 1
                } else {
                    report.plaintext += 1
                }
            }
        }
        return report
    }

    private func plaintextRemains() async throws -> Bool {
        for column in SecretColumn.all {
            if !(try await database.query(column.anyPlaintext())).isEmpty { return true }
        }
        return false
    }

    /// One transaction under the pass lock: plaintext sealed, and (rotating) values of older keys re-sealed.
    private func pass(keyring: SecretKeyring, resealingOlderKeys: Bool) async throws -> Report {
        try await database.transaction { connection in
            var report = Report()
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.passLock))", logger: database.logger)
            for column in SecretColumn.all {
                let query = resealingOlderKeys ? column.selectAll(forUpdate: true) : column.selectPlaintext()
                for row in try await connection.query(query, logger: database.logger).collect() {
                    let value = try column.decode(row)
                    let plaintext: Data
                    if let sealed = value.sealed {
                        guard try SecretKeyring.keyID(of: sealed, for: value.purpose) != keyring.currentKeyID else { continue }
                        plaintext = try keyring.open(sealed, for: value.purpose)
                        report.resealed += 1
                    } else if let stored = value.plaintext {
                        plaintext = stored
                        report.sealedFromPlaintext += 1
                    } else {
                        continue
                    }
                    try await connection.query(try column.update(key: value.key, sealed: keyring.seal(plaintext, for: value.purpose)), logger: database.logger)
                }
            }
            return report
        }
    }
}

/// One secret column and its plaintext twin. Table and column names are literals of this file, never input.
struct SecretColumn: Sendable {
    let table: String
    /// The primary key's columns and their SQL types.
    let keys: [(name: String, type: String)]
    let plaintext: String
    /// A text column (webhook secrets, `whsec_…`): read as its UTF-8 bytes.
    let plaintextIsText: Bool
    let sealed: String
    let purpose: @Sendable ([String]) -> SecretPurpose?

    static let all: [SecretColumn] = [
        SecretColumn(
            table: "server_secrets", keys: [("name", "text")], plaintext: "secret", plaintextIsText: false, sealed: "secret_sealed",
            purpose: { .serverSecret($0[0]) }),
        SecretColumn(
            table: "signing_keys", keys: [("kid", "text")], plaintext: "private_key", plaintextIsText: false, sealed: "private_key_sealed",
            purpose: { .signingKey(kid: $0[0]) }),
        SecretColumn(
            table: "webhook_subscriptions", keys: [("tenant_id", "uuid"), ("id", "uuid")], plaintext: "secret", plaintextIsText: true,
            sealed: "secret_sealed", purpose: webhook),
        SecretColumn(
            table: "webhook_subscriptions", keys: [("tenant_id", "uuid"), ("id", "uuid")], plaintext: "previous_secret", plaintextIsText: true,
            sealed: "previous_secret_sealed", purpose: webhook),
    ]

    private static let webhook: @Sendable ([String]) -> SecretPurpose? = { key in
        guard let tenant = UUID(uuidString: key[0]), let id = UUID(uuidString: key[1]) else { return nil }
        return .webhook(tenant: tenant, id: id)
    }

    struct Value {
        var key: [String]
        var purpose: SecretPurpose
        var plaintext: Data?
        var sealed: Data?
    }

    private var selectList: String {
        let plain = plaintextIsText ? "convert_to(\(plaintext), 'UTF8')" : plaintext
        return (keys.map { "\($0.name)::text" } + [plain, sealed]).joined(separator: ", ")
    }

    private var order: String { keys.map(\.name).joined(separator: ", ") }

    func selectAll(forUpdate: Bool) -> PostgresQuery {
        PostgresQuery(unsafeSQL: """
            SELECT \(selectList) FROM \(table) WHERE \(plaintext) IS NOT NULL OR \(sealed) IS NOT NULL ORDER BY \(order)\(forUpdate ? " FOR UPDATE" : "")
            """)
    }

    func selectPlaintext() -> PostgresQuery {
        PostgresQuery(unsafeSQL: "SELECT \(selectList) FROM \(table) WHERE \(plaintext) IS NOT NULL ORDER BY \(order) FOR UPDATE")
    }

    func anyPlaintext() -> PostgresQuery {
        PostgresQuery(unsafeSQL: "SELECT 1 FROM \(table) WHERE \(plaintext) IS NOT NULL LIMIT 1")
    }

    func update(key: [String], sealed value: Data) throws -> PostgresQuery {
        var bindings = PostgresBindings()
        try bindings.append(value)
        for part in key { bindings.append(part) }
        let match = keys.enumerated().map { "\($0.element.name) = $\($0.offset + 2)::\($0.element.type)" }.joined(separator: " AND ")
        return PostgresQuery(unsafeSQL: "UPDATE \(table) SET \(plaintext) = NULL, \(sealed) = $1 WHERE \(match)", binds: bindings)
    }

    func decode(_ row: PostgresRow) throws -> Value {
        let columns = row.makeRandomAccess()
        let key = try (0..<keys.count).map { try columns[$0].decode(String.self) }
        guard let purpose = purpose(key) else { throw StoreError.invalidValue("\(table) has a row whose key is not \(keys.map(\.type))") }
        return Value(
            key: key, purpose: purpose, plaintext: try columns[keys.count].decode(Data?.self), sealed: try columns[keys.count + 1].decode(Data?.self))
    }
}
