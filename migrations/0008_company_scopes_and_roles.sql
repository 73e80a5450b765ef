-- SPEC §18: API scopes and roles defined per company.
-- Management permissions (tokens:*, users:*, audit:read, settings:*, companies:*, nodes:*,
-- maintenance:run) stay fixed in the code. API scopes are rows here, per company; permission
-- columns (tokens.permissions, users.permissions, roles.permissions) keep holding
-- space-separated names, so stored data is unchanged: every existing company gets the seed
-- catalogue below and every name it already uses keeps its meaning.

CREATE TABLE scopes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies (id),
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX scopes_company_name ON scopes (company_id, name);

CREATE TABLE roles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   INTEGER NOT NULL REFERENCES companies (id),
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL,          -- lower-cased name, unique per company
    description  TEXT    NOT NULL DEFAULT '',
    permissions  TEXT    NOT NULL DEFAULT '', -- management permissions and API scope names
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX roles_company_name ON roles (company_id, name_key);

-- A user holding a company role: role = 'company', role_id names it, and users.permissions
-- holds a copy of the role's set (kept in step in the transaction that edits the role).
ALTER TABLE users ADD COLUMN role_id INTEGER REFERENCES roles (id);
CREATE INDEX users_role ON users (role_id) WHERE role_id IS NOT NULL;

INSERT INTO scopes (company_id, name, description, created_at)
SELECT c.id, s.name, s.description, c.created_at
FROM companies c CROSS JOIN (
              SELECT 'attacks:read' AS name, 'View detected attacks' AS description
    UNION ALL SELECT 'attacks:write', 'Manage detected attacks'
    UNION ALL SELECT 'vulnerabilities:read', 'View vulnerabilities'
    UNION ALL SELECT 'vulnerabilities:write', 'Manage vulnerabilities'
    UNION ALL SELECT 'incidents:read', 'View incidents'
    UNION ALL SELECT 'incidents:write', 'Manage incidents'
    UNION ALL SELECT 'api_discovery:read', 'View the discovered API inventory'
    UNION ALL SELECT 'api_discovery:write', 'Manage the discovered API inventory'
    UNION ALL SELECT 'rules:read', 'View filtering rules'
    UNION ALL SELECT 'rules:write', 'Manage filtering rules'
    UNION ALL SELECT 'integrations:read', 'View integrations'
    UNION ALL SELECT 'integrations:write', 'Manage integrations'
) s;
