import { MigrateError, messageOf } from '../migrate/errors.js'
import { openExecutor, type SqlRunner, splitPrismaSchemaParam } from '../migrate/executor.js'
import { appRoleStatements, assertRoleName } from './app-role-sql.js'

export interface EnsureAppRoleOptions {
  /** The migration owner's connection (a Prisma URL; `?schema=` chooses the schema). */
  url: string
  /** The runtime role to create or fix: `^[a-z_][a-z0-9_]{0,62}$`. */
  role: string
  /** Set (or reset) the role's password; left unchanged when omitted. */
  password?: string
}

export interface EnsureAppRoleResult {
  role: string
  /** The schema whose tables and sequences the role was granted. */
  schema: string
  /** False when the role existed (its attributes were corrected as needed). */
  created: boolean
}

/** The schema the grants cover: the URL's `?schema=`, else Prisma's default. */
export function appRoleSchema(url: string | undefined): string {
  return (url === undefined ? null : splitPrismaSchemaParam(url).schema) ?? 'public'
}

/**
 * Creates the role the application connects as, or brings an existing one into line, and grants
 * it data access to the schema, in one transaction. Idempotent. The role never owns anything:
 * row-level security binds it only while it is neither a superuser, nor BYPASSRLS, nor (through
 * membership) a table owner, since owners can switch the policies off.
 */
export async function ensureAppRole(options: EnsureAppRoleOptions): Promise<EnsureAppRoleResult> {
  assertRoleName(options.role)
  const schema = appRoleSchema(options.url)
  const db = await openExecutor({ url: options.url }, { exclusive: false })
  try {
    return await db.transaction(async (tx) => {
      const existed = await checkBefore(tx, options.role, schema)
      for (const statement of appRoleStatements({
        role: options.role,
        schema,
        withPassword: options.password !== undefined,
      })) {
        if (statement.password) await tx.query(statement.sql, [options.password])
        else await tx.exec(statement.sql)
      }
      // After the role's own attributes are fixed: a superuser would pass every check below.
      await assertNoOwnership(tx, options.role, schema)
      return { role: options.role, schema, created: !existed }
    })
  } catch (error) {
    if (error instanceof MigrateError) throw error
    throw new MigrateError(
      'ACME_CLI_APP_ROLE_FAILED',
      `Could not set up the role ${options.role}: ${messageOf(error)}. Nothing was changed. ` +
        'Connect as the migration owner: it needs CREATEROLE (a superuser to take SUPERUSER, ' +
        'BYPASSRLS or REPLICATION away from an existing role) and must own the tables.',
      { cause: error },
    )
  } finally {
    await db.close()
  }
}

/** Whether the role exists; refuses the connected role itself and a schema that is missing. */
async function checkBefore(tx: SqlRunner, role: string, schema: string): Promise<boolean> {
  const [row] = await tx.query(
    `SELECT current_user AS owner,
            EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1) AS role_exists,
            EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $2) AS schema_exists`,
    [role, schema],
  )
  if (row?.owner === role) {
    throw new MigrateError(
      'ACME_CLI_APP_ROLE_UNSAFE',
      `${role} is the role this connection uses, the migration owner: the app must connect as a different role, since owners can switch row-level security off. Choose another --role.`,
    )
  }
  if (row?.schema_exists !== true) {
    throw new MigrateError(
      'ACME_CLI_APP_ROLE_FAILED',
      `The schema ${schema} does not exist in this database. Apply the migrations first (\`acme migrate apply\`), then set up the role.`,
    )
  }
  return row.role_exists === true
}

/**
 * A role that owns a table, or can act as its owner or as a superuser or BYPASSRLS role through
 * membership, can disable or skip the policies; granting data access would not make it safe.
 */
async function assertNoOwnership(tx: SqlRunner, role: string, schema: string): Promise<void> {
  const rows = await tx.query(
    `SELECT format('%s %I.%I (owner %s)', CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END,
                   n.nspname, c.relname, c.relowner::regrole::text) AS what
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        AND pg_catalog.pg_has_role($1, c.relowner, 'MEMBER')
     UNION ALL
     SELECT format('role %I (%s)', r.rolname,
                   CASE WHEN r.rolsuper THEN 'superuser' ELSE 'bypassrls' END)
       FROM pg_catalog.pg_roles r
      WHERE r.rolname <> $1 AND (r.rolsuper OR r.rolbypassrls)
        AND pg_catalog.pg_has_role($1, r.oid, 'MEMBER')
      ORDER BY 1
      LIMIT 20`,
    [role, schema],
  )
  if (rows.length === 0) return
  const list = rows.map((row) => String(row.what)).join(', ')
  throw new MigrateError(
    'ACME_CLI_APP_ROLE_UNSAFE',
    `${role} owns, or is a member of the owner of: ${list}. Row-level security does not bind such a role, so nothing was changed. Give the objects to the migration owner (ALTER ... OWNER TO) or revoke the membership, or choose another --role.`,
  )
}
