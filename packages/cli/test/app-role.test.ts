import { createHash, createHmac, pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureAppRole } from '../src/db/index.js'
import { MigrateError } from '../src/migrate/errors.js'
import { makeTempDir, type TempDir } from './support/migrate-fixtures.js'
import { diffAndApply, urlAs } from './support/migrate-schema.js'
import { createTestDatabase, type TestDatabase, withClient } from './support/postgres.js'

const NOTES = `datasource db {
  provider = "postgresql"
}

/// @acme.tenantOwned
model Note {
  id       Int    @id @default(autoincrement())
  tenantId String @map("tenant_id") @db.Uuid
  title    String

  @@map("notes")
}
`

const TENANT_A = randomUUID()
const TENANT_B = randomUUID()
// Quotes, a backslash and a statement terminator: it must reach the server as data.
const PASSWORD = `it's a "secret"\\; DROP ROLE postgres; --`

let database: TestDatabase
let project: TempDir
const roles: string[] = []

/** Roles are cluster-wide: every test run gets its own names. */
function roleName(label: string): string {
  const role = `acme_cli_${label}_${randomBytes(4).toString('hex')}`
  roles.push(role)
  return role
}

beforeAll(async () => {
  database = await createTestDatabase('approle')
  project = await makeTempDir()
  await diffAndApply(project, database.url, NOTES, { name: 'init' })
  // Written as the superuser that owns the tables: superusers skip every policy.
  await withClient(database.url, (client) =>
    client.query(`INSERT INTO notes (tenant_id, title) VALUES ($1, 'a1'), ($1, 'a2'), ($2, 'b1')`, [
      TENANT_A,
      TENANT_B,
    ]),
  )
})

afterAll(async () => {
  await withClient(database.url, async (client) => {
    for (const role of roles) {
      const { rows } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
      if (rows.length > 0) await client.query(`DROP OWNED BY "${role}"`)
    }
  })
  await database.drop()
  await withClient(database.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1'), async (client) => {
    for (const role of roles) await client.query(`DROP ROLE IF EXISTS "${role}"`)
  })
  await project.remove()
})

async function asRole<T>(role: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlAs(database.url, role, PASSWORD) })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (error: unknown) => error,
  )
}

describe('ensureAppRole against PostgreSQL', () => {
  let app: string

  beforeAll(async () => {
    app = roleName('app')
    expect(await ensureAppRole({ url: database.url, role: app, password: PASSWORD })).toEqual({
      role: app,
      schema: 'public',
      created: true,
    })
  })

  it('creates a login role that is neither superuser nor BYPASSRLS, owns nothing, has a password', async () => {
    const row = await withClient(database.url, async (client) => {
      const { rows } = await client.query(
        `SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication,
                (SELECT count(*)::int FROM pg_class WHERE relowner = a.oid) AS owned
           FROM pg_authid a WHERE rolname = $1`,
        [app],
      )
      return rows[0]
    })
    expect(row).toEqual({
      rolcanlogin: true,
      rolsuper: false,
      rolbypassrls: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
      owned: 0,
    })
  })

  it('stores exactly the password given, quotes and all (checked against its SCRAM verifier)', async () => {
    const stored = await withClient(database.url, async (client) => {
      const { rows } = await client.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [
        app,
      ])
      return String(rows[0]?.rolpassword)
    })
    const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(stored)
    if (!match?.[1] || !match[2] || !match[3]) throw new Error(`not a SCRAM verifier: ${stored}`)
    const salted = pbkdf2Sync(
      PASSWORD,
      Buffer.from(match[2], 'base64'),
      Number(match[1]),
      32,
      'sha256',
    )
    const clientKey = createHmac('sha256', salted).update('Client Key').digest()
    expect(createHash('sha256').update(clientKey).digest('base64')).toBe(match[3])
  })

  it('sees no row without a tenant, even though rows exist', async () => {
    const count = await asRole(app, async (client) => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM notes')
      return rows[0]?.n
    })
    expect(count).toBe(0)
  })

  it("sees only tenant A's rows with the transaction-local setting, which ends with the transaction", async () => {
    await asRole(app, async (client) => {
      await client.query('BEGIN')
      await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [TENANT_A])
      const { rows } = await client.query('SELECT tenant_id, title FROM notes ORDER BY title')
      expect(rows).toEqual([
        { tenant_id: TENANT_A, title: 'a1' },
        { tenant_id: TENANT_A, title: 'a2' },
      ])
      await client.query(`INSERT INTO notes (tenant_id, title) VALUES ($1, 'a3')`, [TENANT_A])
      await client.query('COMMIT')

      const after = await client.query(`SELECT current_setting('app.tenant_id', true) AS tenant`)
      expect(after.rows[0]?.tenant).toBe('')
      const { rows: none } = await client.query('SELECT count(*)::int AS n FROM notes')
      expect(none[0]?.n).toBe(0)
    })
  })

  it("cannot write a row for tenant B while tenant A is set (42501), nor read B's rows", async () => {
    await asRole(app, async (client) => {
      await client.query('BEGIN')
      await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [TENANT_A])
      const updated = await client.query(`UPDATE notes SET title = 'x' WHERE tenant_id = $1`, [
        TENANT_B,
      ])
      expect(updated.rowCount).toBe(0)
      const error = await failure(
        client.query(`INSERT INTO notes (tenant_id, title) VALUES ($1, 'b2')`, [TENANT_B]),
      )
      expect(error).toMatchObject({ code: '42501' })
      await client.query('ROLLBACK')
    })
  })

  it('is idempotent, and tables the migration owner creates later are granted too', async () => {
    expect(await ensureAppRole({ url: database.url, role: app })).toMatchObject({ created: false })
    await diffAndApply(
      project,
      database.url,
      `${NOTES}\nmodel Tag {\n  id   Int    @id @default(autoincrement())\n  name String\n}\n`,
      { name: 'tags' },
    )
    await asRole(app, async (client) => {
      await client.query(`INSERT INTO "Tag" (name) VALUES ('later')`)
      const { rows } = await client.query('SELECT name FROM "Tag"')
      expect(rows).toEqual([{ name: 'later' }])
    })
  })

  it('takes SUPERUSER, BYPASSRLS and friends away from an existing role', async () => {
    const existing = roleName('existing')
    await withClient(database.url, (client) =>
      client.query(
        `CREATE ROLE "${existing}" NOLOGIN SUPERUSER BYPASSRLS CREATEDB CREATEROLE REPLICATION`,
      ),
    )
    expect(await ensureAppRole({ url: database.url, role: existing })).toMatchObject({
      created: false,
    })
    const row = await withClient(database.url, async (client) => {
      const { rows } = await client.query(
        `SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication
           FROM pg_roles WHERE rolname = $1`,
        [existing],
      )
      return rows[0]
    })
    expect(row).toEqual({
      rolcanlogin: true,
      rolsuper: false,
      rolbypassrls: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
    })
  })

  it('refuses the connected role itself and a role that owns a table, changing nothing', async () => {
    const self = await failure(ensureAppRole({ url: database.url, role: 'postgres' }))
    expect(self).toBeInstanceOf(MigrateError)
    expect(self).toMatchObject({ code: 'ACME_CLI_APP_ROLE_UNSAFE' })

    const owner = roleName('owner')
    await withClient(database.url, async (client) => {
      await client.query(`CREATE ROLE "${owner}" NOLOGIN BYPASSRLS`)
      await client.query(`CREATE TABLE owned_elsewhere (id int)`)
      await client.query(`ALTER TABLE owned_elsewhere OWNER TO "${owner}"`)
    })
    const owns = await failure(ensureAppRole({ url: database.url, role: owner }))
    expect(owns).toMatchObject({ code: 'ACME_CLI_APP_ROLE_UNSAFE' })
    expect(String(owns)).toContain('table public.owned_elsewhere')
    // Rolled back whole: the role keeps its attributes and gained no grant.
    const row = await withClient(database.url, async (client) => {
      const { rows } = await client.query(
        `SELECT rolbypassrls, rolcanlogin, has_table_privilege($1, 'notes', 'SELECT') AS reads
           FROM pg_roles WHERE rolname = $1`,
        [owner],
      )
      return rows[0]
    })
    expect(row).toEqual({ rolbypassrls: true, rolcanlogin: false, reads: false })
  })

  it('reports a missing schema with a stable code', async () => {
    const missing = await failure(
      ensureAppRole({ url: `${database.url}?schema=nowhere`, role: roleName('noschema') }),
    )
    expect(missing).toMatchObject({ code: 'ACME_CLI_APP_ROLE_FAILED' })
    expect(String(missing)).toContain('nowhere does not exist')
  })
})
