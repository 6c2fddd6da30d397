import Foundation
import PostgresNIO
import RosterAuth

extension OIDCRights {
    private struct Stored: Codable {
        var global: [String]
        var tenants: [String: [String]]
    }

    static func encode(_ grants: AdminGrants) throws -> String {
        let stored = Stored(
            global: grants.global.map(\.rawValue).sorted(),
            tenants: Dictionary(uniqueKeysWithValues: grants.tenants.map { ($0.key.uuidString.lowercased(), $0.value.map(\.rawValue).sorted()) }))
        return String(decoding: try JSONEncoder().encode(stored), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> AdminGrants {
        let stored = try JSONDecoder().decode(Stored.self, from: Data(text.utf8))
        var grants = AdminGrants(global: Set(stored.global.compactMap(AdminScope.init(rawValue:))))
        for (tenant, scopes) in stored.tenants {
            guard let id = UUID(uuidString: tenant) else { continue }
            grants.tenants[id] = Set(scopes.compactMap(AdminScope.init(rawValue:)))
        }
        return grants
    }
}

public struct OIDCRightsRepository: OIDCRightsRecording {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Records what a subject's token just resolved to; the latest resolution replaces the one before.
    public func record(_ rights: OIDCRights) async throws {
        try await database.query(
            """
            INSERT INTO admin_oidc_rights (subject, grants, resolved, valid_until)
            VALUES (\(rights.subject), \(try OIDCRights.encode(rights.grants))::jsonb, now(), \(rights.validUntil))
            ON CONFLICT (subject) DO UPDATE SET grants = EXCLUDED.grants, resolved = EXCLUDED.resolved, valid_until = EXCLUDED.valid_until
            """)
    }
}
