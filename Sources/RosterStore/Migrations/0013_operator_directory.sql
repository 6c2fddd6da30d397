-- Rights that come from a directory stay inside that directory's tenant. A role granted to a SCIM group
-- confers rights on the group's own tenant only, because whoever holds one of that tenant's SCIM tokens
-- decides who is in the group. The one exception is the operator's own directory: a tenant an owner marks
-- here, whose staff groups may hold roles on other tenants or on every tenant, and whose SCIM tokens only
-- an owner may create.
--
-- Grants made before this rule that reach beyond their group's tenant stay in the table but confer
-- nothing beyond it (role resolution checks the rule on every read) until an owner marks the group's
-- tenant as the operator directory; the API refuses to make new ones.
ALTER TABLE tenants ADD COLUMN operator_directory boolean NOT NULL DEFAULT false;

