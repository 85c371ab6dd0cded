import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase, withClient } from './support/postgres.js'

const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
let app: string
let database: TestDatabase
const appRole = `acme_cli_role_${randomBytes(4).toString('hex')}`

function acme(...args: string[]) {
  return acmeWithEnv({}, ...args)
}

function acmeWithEnv(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--cwd', app], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: database.url, ...env },
  })
  return { code: result.status, out: result.stdout, err: result.stderr }
}

function writeAppSchema(models: string) {
  writeFileSync(
    join(app, 'prisma/app/schema.prisma'),
    `datasource db {\n  provider = "postgresql"\n}\n\n${models}\n`,
  )
}

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'acme-cli-'))
  mkdirSync(join(app, 'prisma/app'), { recursive: true })
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  writeAppSchema('model Note {\n  id Int @id\n}')
  database = await createTestDatabase('cli')
})

afterAll(async () => {
  rmSync(app, { recursive: true, force: true })
  await withClient(database.url, async (client) => {
    const { rows } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [appRole])
    if (rows.length > 0) await client.query(`DROP OWNED BY "${appRole}"`)
  })
  await database.drop()
  await withClient(database.url.replace(/\/[^/?]+(\?|$)/, '/postgres$1'), (client) =>
    client.query(`DROP ROLE IF EXISTS "${appRole}"`),
  )
})

describe('the acme command', () => {
  it('merges, checks, diffs, applies and reports status end to end', () => {
    expect(acme('prisma', 'merge')).toMatchObject({ code: 0 })
    expect(acme('prisma', 'merge', '--check')).toMatchObject({ code: 0 })

    const diff = acme('migrate', 'diff', '--name', 'init')
    expect(diff.code).toBe(0)
    expect(readdirSync(join(app, 'prisma/migrations')).some((name) => name.endsWith('_init'))).toBe(
      true,
    )

    const status = acme('migrate', 'status')
    expect(status.code).toBe(1)
    expect(status.out).toMatch(/pending/i)

    const apply = acme('migrate', 'apply')
    expect(apply).toMatchObject({ code: 0 })
    expect(apply.out).toContain('Applied 1 migration(s).')
    expect(acme('migrate', 'apply').out).toContain('Database is up to date.')
    expect(acme('migrate', 'status').code).toBe(0)
  })

  it('--check exits 1 with the diff when the app schema changed since the merge', () => {
    writeAppSchema('model Note {\n  id   Int    @id\n  body String\n}')
    const check = acme('prisma', 'merge', '--check')
    expect(check.code).toBe(1)
    expect(check.err).toContain('stale')
    expect(check.err).toContain('+  body String')
    expect(acme('prisma', 'merge', '--dry-run').out).toContain('+  body String')
  })

  it('reports a broken schema with its code, file and line, and exits 1', () => {
    writeAppSchema('model Note {\n  id Int @id\n  owner Nobody\n}')
    const merge = acme('prisma', 'merge')
    expect(merge.code).toBe(1)
    expect(merge.err).toMatch(/^ACME_CLI_SCHEMA_INVALID: /)
    expect(merge.err).toContain('prisma/app/schema.prisma:7')
  })

  it('a loose --fragment carries the .sql file of the same name beside it', () => {
    writeAppSchema('model Note {\n  id Int @id\n}')
    const fragment = 'model Tenant {\n  id String @id\n}\n'
    writeFileSync(join(app, 'prisma/tenancy.prisma'), fragment)
    writeFileSync(join(app, 'prisma/tenancy.sql'), 'CREATE EXTENSION IF NOT EXISTS citext;\n')
    const merge = () =>
      acme(
        'prisma',
        'merge',
        '--fragment',
        'prisma/tenancy.prisma',
        '--output',
        'prisma/with-fragment/schema.prisma',
      )
    const manifest = () =>
      JSON.parse(readFileSync(join(app, 'prisma/with-fragment/schema.manifest.json'), 'utf8')) as {
        fragments: { source: string; sql: string | null }[]
      }

    expect(merge()).toMatchObject({ code: 0 })
    expect(manifest().fragments).toContainEqual(
      expect.objectContaining({
        source: 'prisma/tenancy.prisma',
        sql: 'CREATE EXTENSION IF NOT EXISTS citext;\n',
      }),
    )
    unlinkSync(join(app, 'prisma/tenancy.sql'))
    expect(merge()).toMatchObject({ code: 0 })
    expect(manifest().fragments).toContainEqual(
      expect.objectContaining({ source: 'prisma/tenancy.prisma', sql: null }),
    )
  })

  it('db app-role --print shows the SQL with a password placeholder and touches nothing', () => {
    const printed = acme('db', 'app-role', '--role', appRole, '--password-env', 'NOPE', '--print')
    expect(printed.code).toBe(0)
    expect(printed.out).toContain(`CREATE ROLE "${appRole}" LOGIN NOSUPERUSER NOBYPASSRLS`)
    expect(printed.out).toContain("set_config('acme.app_role_password', '<password>', true)")
    expect(printed.out).toContain(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA "public" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "${appRole}"`,
    )
  })

  it('db app-role creates the role, with the password from the environment only', () => {
    const missing = acme('db', 'app-role', '--role', appRole, '--password-env', 'ACME_TEST_UNSET')
    expect(missing.code).toBe(1)
    expect(missing.err).toMatch(/^ACME_CLI_PASSWORD_ENV_EMPTY: /)

    const invalid = acme('db', 'app-role', '--role', 'Bad-Name')
    expect(invalid.code).toBe(1)
    expect(invalid.err).toMatch(/^ACME_CLI_ROLE_NAME_INVALID: /)

    const created = acmeWithEnv(
      { APP_DB_PASSWORD: 's3cret' },
      'db',
      'app-role',
      '--role',
      appRole,
      '--password-env',
      'APP_DB_PASSWORD',
    )
    expect(created).toMatchObject({ code: 0 })
    expect(created.out).toContain(`Created role ${appRole}`)
    expect(acme('db', 'app-role', '--role', appRole).out).toContain(`Updated role ${appRole}`)
  })

  it('prints usage and exits 1 on an unknown command', () => {
    const unknown = acme('migrate', 'sideways')
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain('Usage: acme')
  })
})
