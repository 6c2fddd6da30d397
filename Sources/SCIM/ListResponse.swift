/// RFC 7644 §3.4.2: a page of query results.
public struct ListResponse: Sendable {
    public static let schema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

    public var totalResults: Int
    /// nil for a cursor-paginated page (RFC 9865), which carries `nextCursor` instead.
    public var startIndex: Int?
    public var resources: [JSONValue]
    public var nextCursor: String?
    public var previousCursor: String?

    public init(totalResults: Int, startIndex: Int?, resources: [JSONValue], nextCursor: String? = nil, previousCursor: String? = nil) {
        self.totalResults = totalResults
        self.startIndex = startIndex
        self.resources = resources
        self.nextCursor = nextCursor
        self.previousCursor = previousCursor
    }

    public var body: JSONValue {
        var object: [String: JSONValue] = [
            "schemas": [.string(Self.schema)],
            "totalResults": .integer(totalResults),
            "itemsPerPage": .integer(resources.count),
            "Resources": .array(resources),
        ]
        if let startIndex { object["startIndex"] = .integer(startIndex) }
        // RFC 9865: nextCursor on every page but the last; previousCursor on every page but the first.
        if let nextCursor { object["nextCursor"] = .string(nextCursor) }
        if let previousCursor { object["previousCursor"] = .string(previousCursor) }
        return .object(object)
    }
}

/// RFC 7644 §3.4.2.4: index-based pagination parameters, clamped to the server's limits.
public struct Pagination: Sendable, Equatable {
    public static let defaultCount = 100
    public static let maximumCount = 1000
    /// RFC 9865 `cursorTimeout`: seconds a cursor stays valid between pages.
    public static let cursorTimeout = 3600

    public var startIndex: Int
    public var count: Int

    public init(startIndex: Int = 1, count: Int = Pagination.defaultCount) {
        self.startIndex = startIndex
        self.count = count
    }

    /// Non-numeric values are `invalidValue`; startIndex < 1 is treated as 1 and a negative
    /// count as 0 (RFC 7644 §3.4.2.4); a count above the maximum is clamped to it.
    public init(startIndex: String?, count: String?, limits: Limits = .standard) throws(ScimError) {
        var start = 1
        if let startIndex {
            guard let value = Int(startIndex) else { throw .invalidValue("startIndex must be an integer.") }
            start = max(1, value)
        }
        var pageSize = limits.defaultCount
        if let count {
            guard let value = Int(count) else { throw .invalidValue("count must be an integer.") }
            pageSize = min(max(0, value), limits.maximumCount)
        }
        self.init(startIndex: start, count: pageSize)
    }

    /// A list's page size when the request names no `count`, and the most a `count` gets (an operator may change both at run time).
    public struct Limits: Sendable, Hashable {
        public var defaultCount: Int
        public var maximumCount: Int
        public static let standard = Limits(defaultCount: Pagination.defaultCount, maximumCount: Pagination.maximumCount)
        /// The most any configuration may allow: a page is built in memory.
        public static let ceiling = 10_000

        public init(defaultCount: Int, maximumCount: Int) {
            self.defaultCount = defaultCount
            self.maximumCount = maximumCount
        }
    }
}
