@testable import RosterStore
import Testing

@Suite("Statement kinds, the label of roster_db_query_duration_seconds")
struct StatementKindTests {
    @Test("a statement is its leading keyword; a WITH statement is its first write (an action with its audit entry), else a select")
    func kinds() {
        #expect(RosterDatabase.StatementKind("SELECT 1") == .select)
        #expect(RosterDatabase.StatementKind("  (SELECT 1) UNION ALL (SELECT 2)") == .select)
        #expect(RosterDatabase.StatementKind("INSERT INTO tenants (name) VALUES ($1)") == .insert)
        #expect(RosterDatabase.StatementKind("BEGIN") == .other)
        #expect(RosterDatabase.StatementKind("WITH token AS (\n  INSERT INTO scim_tokens (name) VALUES ($1) RETURNING *),\naudit AS (INSERT INTO admin_actions SELECT 1) SELECT * FROM token") == .insert)
        #expect(RosterDatabase.StatementKind("WITH s AS (UPDATE webhook_subscriptions\n SET updated = now() RETURNING *) SELECT * FROM s") == .update)
        #expect(RosterDatabase.StatementKind("WITH s AS (DELETE FROM webhook_subscriptions RETURNING *) SELECT id FROM s") == .delete)
        #expect(RosterDatabase.StatementKind("WITH RECURSIVE up(id) AS (SELECT 1) SELECT updated, last_modified FROM up") == .select)
        #expect(RosterDatabase.StatementKind("with moved as (update webhook_subscriptions s set position = 1) insert into d select 1") == .update)
        #expect(RosterDatabase.StatementKind("WITH x AS (SELECT 1) SELECT inserted, set_at, deleted FROM x WHERE insert_into = 1") == .select)
        #expect(RosterDatabase.StatementKind("") == .other)
        #expect(RosterDatabase.StatementKind("  delete FROM events") == .delete)
        #expect(RosterDatabase.StatementKind("UPDATE groups SET version = version + 1") == .update)
    }
}
