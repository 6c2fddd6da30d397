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
