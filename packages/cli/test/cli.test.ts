import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from './support/postgres.js'

const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
let app: string
let database: TestDatabase

function acme(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, '--cwd', app], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: database.url },
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
  await database.drop()
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

  it('prints usage and exits 1 on an unknown command', () => {
    const unknown = acme('migrate', 'sideways')
    expect(unknown.code).toBe(1)
    expect(unknown.err).toContain('Usage: acme')
  })
})
