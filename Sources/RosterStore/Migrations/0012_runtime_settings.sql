-- Runtime settings: what an owner may change without a restart (GET/PUT /api/v1/config), global like
-- server_secrets. One row: the document as PUT (sections it leaves out fall back to the process
-- configuration) and its version, the ETag. A PUT replaces the document only while the version is the
-- one its If-Match names, bumps the version, and writes its audit entry, all in one statement.
-- Every replica re-reads the row every few seconds (ROSTER_SETTINGS_REFRESH_MS).
CREATE TABLE runtime_settings (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),   -- at most one row
    document  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(document) = 'object'),
    version   bigint NOT NULL DEFAULT 0,                      -- 0: never set; every replace adds 1
    updated   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO runtime_settings DEFAULT VALUES;
