import Configuration

/// What bounds one tenant's share of this process's work: statement time, pool share, member rows per list page.
public struct WorkLimits: Sendable {
    /// How long one SQL statement of a SCIM request may run (`ROSTER_SCIM_STATEMENT_TIMEOUT_MS`, 10000).
    /// Also the pool's default, so background work (webhook claims, retention batches) runs under it too.
    public var scimStatementTimeout: Duration = .seconds(10)
    /// The same for an admin API request (`ROSTER_ADMIN_STATEMENT_TIMEOUT_MS`, 30000): audit and event queries span tenants.
    public var adminStatementTimeout: Duration = .seconds(30)
    /// The share of the connection pool one tenant's requests may hold at once, in percent
    /// (`ROSTER_TENANT_POOL_SHARE_PERCENT`, 50); at least one connection.
    public var tenantPoolSharePercent = 50
    /// Members the groups of one page of a group list or search may have together (`ROSTER_GROUP_LIST_MEMBER_BUDGET`, 10000).
    public var groupListMemberBudget = 10_000

    public init() {}

    /// Requests of one tenant that may run at once in a process with `maxConnections` pooled connections.
    public func tenantRequests(maxConnections: Int) -> Int {
        max(1, maxConnections * tenantPoolSharePercent / 100)
    }

    init(reader config: ConfigReader) throws(RosterConfiguration.Invalid) {
        typealias Invalid = RosterConfiguration.Invalid
        if let milliseconds = config.int(forKey: "scim.statement.timeout.ms") {
            guard (100...3_600_000).contains(milliseconds) else { throw Invalid(description: "ROSTER_SCIM_STATEMENT_TIMEOUT_MS must be 100…3600000 (10000 by default).") }
            scimStatementTimeout = .milliseconds(milliseconds)
        }
        if let milliseconds = config.int(forKey: "admin.statement.timeout.ms") {
            guard (100...3_600_000).contains(milliseconds) else { throw Invalid(description: "ROSTER_ADMIN_STATEMENT_TIMEOUT_MS must be 100…3600000 (30000 by default).") }
            adminStatementTimeout = .milliseconds(milliseconds)
        }
        if let percent = config.int(forKey: "tenant.pool.share.percent") {
            guard (1...100).contains(percent) else { throw Invalid(description: "ROSTER_TENANT_POOL_SHARE_PERCENT must be 1…100 (50 by default).") }
            tenantPoolSharePercent = percent
        }
        if let budget = config.int(forKey: "group.list.member.budget") {
            guard (0...1_000_000).contains(budget) else { throw Invalid(description: "ROSTER_GROUP_LIST_MEMBER_BUDGET must be 0…1000000 (10000 by default).") }
            groupListMemberBudget = budget
        }
    }
}
