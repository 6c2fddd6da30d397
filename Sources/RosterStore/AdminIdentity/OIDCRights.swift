import Foundation
import PostgresNIO
public import RosterAuth

extension OIDCRights {
    /// A scope or tenant id the row holds that Roster cannot read is an error, never a right dropped or kept.
    private struct Stored: Codable {
        var global: [AdminScope]
        var tenants: [String: [AdminScope]]
    }

    static func encode(_ grants: AdminGrants) throws -> String {
        let stored = Stored(
            global: grants.global.sorted { $0.rawValue < $1.rawValue },
            tenants: Dictionary(uniqueKeysWithValues: grants.tenants.map { ($0.key.uuidString.lowercased(), $0.value.sorted { $0.rawValue < $1.rawValue }) }))
        return String(decoding: try JSONEncoder().encode(stored), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> AdminGrants {
        let stored = try JSONDecoder().decode(Stored.self, from: Data(text.utf8))
        var grants = AdminGrants(global: Set(stored.global))
        for (tenant, scopes) in stored.tenants {
            guard let id = UUID(uuidString: tenant) else { throw StoreError.invalidValue("recorded OIDC rights name tenant '\(tenant)'") }
            grants.tenants[id] = Set(scopes)
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
