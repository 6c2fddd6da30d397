-- Walking up through nested groups (a user's indirect groups, the membership probe, the cycle
-- check) joins each group found to the groups that contain it. With group_members_member alone
-- the planner, guessing at that step's size, may scan every membership of the tenant; this index
-- holds only the rows whose member is a group (few), so that step stays small whatever it picks.
CREATE INDEX group_members_nested ON group_members (tenant_id, member_id) WHERE member_type = 'Group';
