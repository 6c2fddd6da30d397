/// The longest value Roster keeps for each attribute PostgreSQL indexes (userName, displayName,
/// externalId, emails.value).
///
/// A btree or GIN index entry holds at most about 2 700 bytes; a longer value would fail the write
/// inside the database. The limits count characters (Unicode code points, as PostgreSQL does) and
/// stay under that size even when every character takes UTF-8's 4 bytes and `lower()` is indexed.
public struct IndexedAttributeLimit: Sendable, Equatable {
    /// `User` or `Group`.
    public var resourceType: String
    /// The attribute, or `attribute.subAttribute` of each value of a multi-valued one.
    public var path: String
    public var maxCharacters: Int

    public static let all: [IndexedAttributeLimit] = [
        // RFC 5321 §4.5.3.1.3: an address (the usual userName) is at most 256 octets.
        .init(resourceType: "User", path: "userName", maxCharacters: 256),
        .init(resourceType: "User", path: "displayName", maxCharacters: 256),
        // Room for an LDAP distinguished name, which some directories use as the external id.
        .init(resourceType: "User", path: "externalId", maxCharacters: 512),
        .init(resourceType: "User", path: "emails.value", maxCharacters: 256),
        .init(resourceType: "Group", path: "displayName", maxCharacters: 256),
        .init(resourceType: "Group", path: "externalId", maxCharacters: 512),
    ]

    /// The limit on one attribute of a resource type, if it is indexed.
    public static func limit(_ resourceType: String, _ path: String) -> Int? {
        all.first { $0.resourceType == resourceType && $0.path.caseInsensitiveEquals(path) }?.maxCharacters
    }

    /// Refuses a canonical resource body (as `ResourceValidator` produces it) holding a value over its limit.
    static func check(_ body: [String: JSONValue], of resourceType: String) throws(ScimError) {
        for limit in all where limit.resourceType == resourceType {
            let parts = limit.path.split(separator: ".", maxSplits: 1).map(String.init)
            let values: [JSONValue]
            if parts.count == 2 {
                values = (body[parts[0]]?.arrayValue ?? []).compactMap { $0[parts[1]] }
            } else {
                values = body[parts[0]].map { [$0] } ?? []
            }
            for case .string(let text) in values where text.unicodeScalars.count > limit.maxCharacters {
                // The value itself is not echoed: it may be a megabyte.
                throw .invalidValue(
                    "'\(limit.path)' is \(text.unicodeScalars.count) characters long; Roster keeps at most \(limit.maxCharacters) (the attribute is indexed).")
            }
        }
    }
}
