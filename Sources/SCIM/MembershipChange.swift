public import Foundation

/// A change to a group's membership that a write asks for; stored apart from the group body so
/// it costs the size of the change, not of the group.
public enum MembershipChange: Sendable, Equatable {
    case add([MemberReference])
    case remove([UUID])
    case removeAll
    case replace([MemberReference])
}

/// The members rule, in this one place: a Group's `members` are never stored in its body; they are
/// stored apart, as memberships (RosterStore's `group_members`), so a change costs its own size.
/// POST and PUT bodies are split by `separatingMembers`; PATCH (`PatchEngine`) and the filter compiler
/// ask `storesApart` which attribute that is, and member values are read by `memberReferences`.
extension ResourceType {
    /// What a whole body written means for the membership.
    public enum BodyWrite: Sendable {
        /// POST: the members listed are added to the new group.
        case create
        /// PUT: the members listed are the whole new list (RFC 7644 §3.5.1), none if absent.
        case replace
    }

    /// Whether the top-level core attribute `attribute` is stored apart from the body: a Group's `members`.
    public func storesApart(_ attribute: String) -> Bool {
        name == "Group" && attribute == "members"
    }

    /// A validated POST or PUT body without `members`, and the membership changes they ask for.
    /// A type whose members are not stored apart keeps its body as it is and changes no membership.
    public func separatingMembers(
        _ body: [String: JSONValue], on write: BodyWrite
    ) throws(ScimError) -> (body: [String: JSONValue], membership: [MembershipChange]) {
        guard storesApart("members") else { return (body, []) }
        var body = body
        let members = try memberReferences(body.removeValue(forKey: "members")?.arrayValue ?? [])
        switch write {
        case .create: return (body, [.add(members)])
        case .replace: return (body, [.replace(members)])
        }
    }

    /// Validated `members` values as references, each id once, in the order first named.
    public func memberReferences(_ members: [JSONValue]) throws(ScimError) -> [MemberReference] {
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
