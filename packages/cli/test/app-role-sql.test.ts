import { describe, expect, test } from 'vitest'
import { appRoleScript, appRoleStatements } from '../src/db/app-role-sql.js'
import { appRoleSchema } from '../src/db/ensure-app-role.js'
import { MigrateError } from '../src/migrate/errors.js'

describe('the app role script', () => {
  test('prints the whole transaction, with a placeholder for the password', () => {
    expect(appRoleScript({ role: 'app_rw', schema: 'public', withPassword: true })).toBe(
      `-- acme db app-role: the runtime role app_rw for schema public.
-- Run as the migration owner (the role that owns the tables), in the app's database.
BEGIN;
DO $acme$
DECLARE
  existing pg_catalog.pg_roles%ROWTYPE;
BEGIN
  SELECT * INTO existing FROM pg_catalog.pg_roles WHERE rolname = 'app_rw';
  IF NOT FOUND THEN
    CREATE ROLE "app_rw" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
    RETURN;
  END IF;
  IF existing.rolsuper THEN ALTER ROLE "app_rw" NOSUPERUSER; END IF;
  IF existing.rolbypassrls THEN ALTER ROLE "app_rw" NOBYPASSRLS; END IF;
  IF existing.rolreplication THEN ALTER ROLE "app_rw" NOREPLICATION; END IF;
  IF existing.rolcreaterole THEN ALTER ROLE "app_rw" NOCREATEROLE; END IF;
  IF existing.rolcreatedb THEN ALTER ROLE "app_rw" NOCREATEDB; END IF;
  IF NOT existing.rolcanlogin THEN ALTER ROLE "app_rw" LOGIN; END IF;
END
$acme$;
SELECT pg_catalog.set_config('acme.app_role_password', '<password>', true);
DO $acme$
BEGIN
  EXECUTE format('ALTER ROLE %I PASSWORD %L', 'app_rw', current_setting('acme.app_role_password'));
END
$acme$;
GRANT USAGE ON SCHEMA "public" TO "app_rw";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "public" TO "app_rw";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "public" TO "app_rw";
ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "app_rw";
ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT USAGE, SELECT ON SEQUENCES TO "app_rw";
COMMIT;
`,
    )
  })

  test('leaves the password alone when none is given, and quotes the schema', () => {
    const statements = appRoleStatements({ role: 'app', schema: 'te"nant', withPassword: false })
    expect(statements.some((statement) => statement.password)).toBe(false)
    expect(statements.map((statement) => statement.sql).join('\n')).not.toContain('PASSWORD')
    expect(statements[1]?.sql).toBe('GRANT USAGE ON SCHEMA "te""nant" TO "app"')
  })

  test('the password is a bind parameter, never part of the SQL text', () => {
    const withPassword = appRoleStatements({ role: 'app', schema: 'public', withPassword: true })
    const carrier = withPassword.filter((statement) => statement.password)
    expect(carrier).toEqual([
      { sql: "SELECT pg_catalog.set_config('acme.app_role_password', $1, true)", password: true },
    ])
  })

  test.each([
    'App',
    '1app',
    'app-rw',
    'app rw',
    "app'; DROP ROLE postgres; --",
    '',
    `a${'b'.repeat(63)}`,
  ])('refuses the role name %j', (role) => {
    let error: unknown
    try {
      appRoleStatements({ role, schema: 'public', withPassword: false })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(MigrateError)
    expect(error).toMatchObject({ code: 'ACME_CLI_ROLE_NAME_INVALID' })
  })

  test('accepts names up to 63 characters', () => {
    expect(() =>
      appRoleStatements({ role: `_${'a1'.repeat(31)}`, schema: 'public', withPassword: false }),
    ).not.toThrow()
  })

  test("grants on the URL's ?schema=, else public", () => {
    expect(appRoleSchema('postgres://h/db?schema=tenant_a')).toBe('tenant_a')
    expect(appRoleSchema('postgres://h/db')).toBe('public')
    expect(appRoleSchema(undefined)).toBe('public')
  })
})
