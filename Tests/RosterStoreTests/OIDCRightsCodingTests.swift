import Foundation
import RosterAuth
@testable import RosterStore
import Testing

/// The rights a trusted issuer's subject held, as `admin_oidc_rights.grants` stores them: they bound every key
/// that subject made, so a value the store cannot read must stop the key, never widen or narrow it silently.
@Suite("Recorded OIDC rights read back exactly, or not at all")
struct OIDCRightsCodingTests {
    @Test("global and per-tenant scopes round-trip")
    func roundTrip() throws {
        let tenant = UUID()
        let grants = AdminGrants(global: [.feedRead, .auditRead], tenants: [tenant: [.scimTokens, .webhooks]])
        #expect(try OIDCRights.decode(OIDCRights.encode(grants)) == grants)
    }

    @Test("an unknown scope or a tenant that is not an id is an error, never a right dropped", arguments: [
        #"{"global": ["*", "root"], "tenants": {}}"#,
        #"{"global": [], "tenants": {"acme": ["*"]}}"#,
        #"{"global": [], "tenants": {"0b1f8a8e-3f0e-4c36-9b8e-6f2b7f1d0c11": ["webhooks", "admin-keys:write"]}}"#,
        #"{"global": "*", "tenants": {}}"#,
    ])
    func refused(text: String) {
        #expect(throws: (any Error).self) { try OIDCRights.decode(text) }
    }
}
