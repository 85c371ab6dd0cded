import { MigrateError } from '../migrate/errors.js'
import { quoteIdentifier } from '../migrate/identifier.js'

/** Lower case so the name needs no quoting in psql or a URL; 63 bytes is PostgreSQL's limit. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/

export function assertRoleName(role: string): void {
  if (!ROLE_NAME.test(role)) {
    throw new MigrateError(
      'ACME_CLI_ROLE_NAME_INVALID',
      `Invalid role name ${JSON.stringify(role)}: use 1 to 63 lower-case letters, digits and _, not starting with a digit (${ROLE_NAME.source}).`,
    )
  }
}

/** One statement of the script; `password` marks the one whose `$1` is the password. */
export interface AppRoleStatement {
  sql: string
  password?: true
}

export interface AppRoleScriptOptions {
  role: string
  /** The schema whose tables the app reads and writes. */
  schema: string
  /** Whether to set the role's password (passed as a parameter, never in the SQL text). */
  withPassword: boolean
}

/** The custom setting that carries the password from a bind parameter into the DO block. */
const PASSWORD_SETTING = 'acme.app_role_password'

/**
 * What `ensureAppRole` runs, in one transaction. Each attribute that would let the role skip
 * row-level security (SUPERUSER, BYPASSRLS, REPLICATION reads the WAL) or grant itself more is
 * switched off only when set, because changing SUPERUSER, BYPASSRLS or REPLICATION at all needs
 * a superuser, which managed databases do not give the migration owner.
 */
export function appRoleStatements(options: AppRoleScriptOptions): AppRoleStatement[] {
  assertRoleName(options.role)
  const role = quoteIdentifier(options.role)
  const schema = quoteIdentifier(options.schema)
  const unless = (attribute: string, change: string) =>
    `  IF existing.${attribute} THEN ALTER ROLE ${role} ${change}; END IF;`
  const statements: AppRoleStatement[] = [
    {
      sql: [
        'DO $acme$',
        'DECLARE',
        '  existing pg_catalog.pg_roles%ROWTYPE;',
        'BEGIN',
        // The name passed the pattern above, so it is a plain literal here.
        `  SELECT * INTO existing FROM pg_catalog.pg_roles WHERE rolname = '${options.role}';`,
        '  IF NOT FOUND THEN',
        `    CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;`,
        '    RETURN;',
        '  END IF;',
        unless('rolsuper', 'NOSUPERUSER'),
        unless('rolbypassrls', 'NOBYPASSRLS'),
        unless('rolreplication', 'NOREPLICATION'),
        unless('rolcreaterole', 'NOCREATEROLE'),
        unless('rolcreatedb', 'NOCREATEDB'),
        `  IF NOT existing.rolcanlogin THEN ALTER ROLE ${role} LOGIN; END IF;`,
        'END',
        '$acme$',
      ].join('\n'),
    },
  ]
  if (options.withPassword) {
    statements.push(
      {
        sql: `SELECT pg_catalog.set_config('${PASSWORD_SETTING}', $1, true)`,
        password: true,
      },
      {
        // %L quotes the password server-side; the setting is local to this transaction.
        sql: [
          'DO $acme$',
          'BEGIN',
          `  EXECUTE format('ALTER ROLE %I PASSWORD %L', '${options.role}', current_setting('${PASSWORD_SETTING}'));`,
          'END',
          '$acme$',
        ].join('\n'),
      },
    )
  }
  statements.push(
    { sql: `GRANT USAGE ON SCHEMA ${schema} TO ${role}` },
    { sql: `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}` },
    { sql: `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}` },
    // Without FOR ROLE these apply to objects the connected role (the migration owner) creates.
    {
      sql: `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`,
    },
    {
      sql: `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT USAGE, SELECT ON SEQUENCES TO ${role}`,
    },
  )
  return statements
}

export const PASSWORD_PLACEHOLDER = "'<password>'"

/** The script as psql runs it: one transaction, the password replaced by a placeholder. */
export function appRoleScript(options: AppRoleScriptOptions): string {
  const body = appRoleStatements(options).map(
    (statement) =>
      `${statement.password ? statement.sql.replace('$1', PASSWORD_PLACEHOLDER) : statement.sql};`,
  )
  return [
    `-- acme db app-role: the runtime role ${options.role} for schema ${options.schema}.`,
    "-- Run as the migration owner (the role that owns the tables), in the app's database.",
    'BEGIN;',
    ...body,
    'COMMIT;',
    '',
  ].join('\n')
}
