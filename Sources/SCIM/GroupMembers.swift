public import Foundation

/// RFC 7643 §4.2: what a Group's `members` sub-attribute `type` may say.
public enum MemberType: String, Sendable, Hashable, Codable {
    case user = "User"
    case group = "Group"
}

/// One member as a client names it: an id and, optionally, the type it claims.
public struct MemberReference: Sendable, Hashable {
    public var id: UUID
    public var type: MemberType?

    public init(id: UUID, type: MemberType? = nil) {
        self.id = id
        self.type = type
    }
}

/// A resolved member as the server returns it.
public struct GroupMember: Sendable, Hashable {
    public var id: UUID
    public var type: MemberType
    public var display: String?

    public init(id: UUID, type: MemberType, display: String?) {
        self.id = id
        self.type = type
        self.display = display
    }
}

extension ResourceType {
    /// Takes `members` out of a validated Group body: membership is stored apart from the group.
    public func extractMembers(from body: inout [String: JSONValue]) throws(ScimError) -> [MemberReference] {
        guard let members = body.removeValue(forKey: "members")?.arrayValue else { return [] }
        var references: [MemberReference] = []
        var seen = Set<UUID>()
        for member in members {
            guard let value = member["value"]?.stringValue else {
                throw .invalidValue("Each member needs a 'value' holding the member's id.")
            }
            guard let id = UUID(uuidString: value) else {
                throw .invalidValue("Member '\(value)' is not the id of a User or Group of this tenant.")
            }
            let type = try member["type"]?.stringValue.map { (raw: String) throws(ScimError) -> MemberType in
                guard let type = MemberType(rawValue: raw) else {
                    throw .invalidValue("Member type must be User or Group, not '\(raw)'.")
                }
                return type
            }
            if seen.insert(id).inserted { references.append(MemberReference(id: id, type: type)) }
        }
        return references
    }
}
