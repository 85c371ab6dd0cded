import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { migrateApply } from '@acme/cli'
import { PrismaPg } from '@prisma/adapter-pg'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { checkMigrations } from '../src/data/migrations-check.js'
import {
  AcmeMigrationsError,
  acmeCore,
  type CoreOptions,
  type PrismaClientLike,
  serverOptions,
} from '../src/index.js'
import { silentLogger } from '../src/logger.js'
import { PrismaClient } from './generated/prisma/client.js'
import { TEST_BRAND } from './support/app.js'
import { TEST_DATABASE_URL } from './support/env.js'

const MIGRATION = '20250101000000_probe'
const admin = new PrismaClient({ adapter: new PrismaPg({ connectionString: TEST_DATABASE_URL }) })
const created: string[] = []
const folders: string[] = []
const apps: FastifyInstance[] = []

/** An empty database of its own, as a new deployment has before its first migration. */
async function emptyDatabase(): Promise<string> {
  const name = `acme_core_migrations_${randomBytes(4).toString('hex')}`
  await admin.$executeRawUnsafe(`CREATE DATABASE "${name}"`)
  created.push(name)
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/** An app folder with one migration under prisma/migrations. */
function appFolder(): { root: string; migrations: string } {
  const root = mkdtempSync(join(tmpdir(), 'acme-core-migrations-'))
  folders.push(root)
  const migrations = join(root, 'prisma/migrations')
  mkdirSync(join(migrations, MIGRATION), { recursive: true })
  writeFileSync(
    join(migrations, MIGRATION, 'migration.sql'),
    'CREATE TABLE "Probe" ("id" INTEGER NOT NULL PRIMARY KEY);\n',
  )
  return { root, migrations }
}

/** Registers core on `url` and resolves to `ready()`'s outcome, with the app's log lines. */
async function start(url: string, options: Partial<CoreOptions> = {}) {
  const lines: string[] = []
  const stream = new PassThrough()
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)))
  const app = Fastify(serverOptions({ logger: { stream }, level: 'debug' }))
  apps.push(app)
  await app.register(acmeCore, {
    brand: TEST_BRAND,
    mail: { transport: 'memory' },
    database: { url, PrismaClient, poolSize: 2 },
    ...options,
  })
  const outcome = await app.ready().then(
    () => null,
    (error: unknown) => error,
  )
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { outcome, logs }
}

const savedCwd = process.cwd()

afterEach(async () => {
  process.chdir(savedCwd)
  for (const app of apps.splice(0)) await app.close().catch(() => {})
})

beforeAll(async () => {
  await admin.$connect()
})

afterAll(async () => {
  for (const name of created) await admin.$executeRawUnsafe(`DROP DATABASE IF EXISTS "${name}"`)
  await admin.$disconnect()
  for (const folder of folders) rmSync(folder, { recursive: true, force: true })
})

describe('startup against the migrations folder', () => {
  it('refuses a database that lacks a migration, naming it and the command that applies it', async () => {
    const url = await emptyDatabase()
    const { migrations } = appFolder()
    const { outcome } = await start(url, { migrations: { dir: migrations } })
    expect(outcome).toBeInstanceOf(AcmeMigrationsError)
    expect(outcome).toMatchObject({
      code: 'ACME_CORE_MIGRATIONS_PENDING',
      migrations: [MIGRATION],
      migrationsDir: migrations,
    })
    const message = (outcome as Error).message
    expect(message).toContain(`lacks 1 migration of ${migrations}:\n  ${MIGRATION}\n`)
    expect(message).toContain('npx acme migrate apply')
  })

  it("refuses before a plugin's own startup reads a missing table", async () => {
    const url = await emptyDatabase()
    const { migrations } = appFolder()
    const app = Fastify({ logger: false })
    apps.push(app)
    await app.register(acmeCore, {
      brand: TEST_BRAND,
      mail: { transport: 'memory' },
      database: { url, PrismaClient, poolSize: 2 },
      migrations: { dir: migrations },
    })
    // What a plugin registered after core does when it starts: read one of its tables.
    app.addHook('onReady', async () => {
      await app.prisma.probe.findMany()
    })
    await expect(app.ready()).rejects.toMatchObject({ code: 'ACME_CORE_MIGRATIONS_PENDING' })
  })

  it('starts once they are applied, and says the schema matches', async () => {
    const url = await emptyDatabase()
    const { migrations } = appFolder()
    await migrateApply({ migrationsDir: migrations, target: { url } })
    const { outcome, logs } = await start(url, { migrations: { dir: migrations } })
    expect(outcome).toBeNull()
    expect(logs()).toContainEqual(
      expect.objectContaining({ msg: 'database schema matches the migrations folder', applied: 1 }),
    )
  })

  it('refuses a migration edited after it was applied', async () => {
    const url = await emptyDatabase()
    const { migrations } = appFolder()
    await migrateApply({ migrationsDir: migrations, target: { url } })
    writeFileSync(join(migrations, MIGRATION, 'migration.sql'), 'CREATE TABLE "Other" ();\n')
    const { outcome } = await start(url, { migrations: { dir: migrations } })
    expect(outcome).toMatchObject({ code: 'ACME_CORE_MIGRATIONS_CHANGED', migrations: [MIGRATION] })
    expect((outcome as Error).message).toContain('acme migrate diff')
  })

  it('refuses a migration recorded as failed', async () => {
    const url = await emptyDatabase()
    const { migrations } = appFolder()
    await migrateApply({ migrationsDir: migrations, target: { url } })
    const db = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
    await db.$executeRawUnsafe('UPDATE _prisma_migrations SET finished_at = NULL')
    await db.$disconnect()
    const { outcome } = await start(url, { migrations: { dir: migrations } })
    expect(outcome).toMatchObject({ code: 'ACME_CORE_MIGRATIONS_FAILED', migrations: [MIGRATION] })
    expect((outcome as Error).message).toContain('acme migrate status')
  })

  it('looks in prisma/migrations of the working directory when the app names no folder', async () => {
    const url = await emptyDatabase()
    const { root } = appFolder()
    process.chdir(root)
    const { outcome } = await start(url)
    expect(outcome).toMatchObject({
      code: 'ACME_CORE_MIGRATIONS_PENDING',
      migrationsDir: join(root, 'prisma/migrations'),
    })
    expect((outcome as Error).message).toContain('lacks 1 migration of prisma/migrations:')
  })

  it("looks where package.json's acme.prisma.migrations says, as the CLI does", async () => {
    const url = await emptyDatabase()
    const root = mkdtempSync(join(tmpdir(), 'acme-core-migrations-'))
    folders.push(root)
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ name: 'app', acme: { prisma: { migrations: 'db/migrations' } } }),
    )
    mkdirSync(join(root, 'db/migrations', MIGRATION), { recursive: true })
    writeFileSync(join(root, 'db/migrations', MIGRATION, 'migration.sql'), 'SELECT 1;\n')
    process.chdir(root)
    const { outcome } = await start(url)
    expect(outcome).toMatchObject({ code: 'ACME_CORE_MIGRATIONS_PENDING', migrations: [MIGRATION] })
  })

  it('checks nothing without a migrations folder, or with migrations: false', async () => {
    const url = await emptyDatabase()
    const { root, migrations } = appFolder()
    expect((await start(url, { migrations: { dir: join(root, 'nowhere') } })).outcome).toBeNull()
    expect((await start(url, { migrations: false })).outcome).toBeNull()
    // The same app, checked, would have refused.
    expect((await start(url, { migrations: { dir: migrations } })).outcome).toBeInstanceOf(
      AcmeMigrationsError,
    )
  })

  it('starts, with a warning, when the database cannot be read', async () => {
    const { migrations } = appFolder()
    const unreachable = new Error('connect ECONNREFUSED 127.0.0.1:1')
    const prisma = {
      $connect: async () => {},
      $disconnect: async () => {},
      $queryRaw: () => Promise.reject(unreachable),
      $queryRawUnsafe: () => Promise.reject(unreachable),
    }
    const lines: string[] = []
    const stream = new PassThrough()
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()))
    const app = Fastify(serverOptions({ logger: { stream }, level: 'debug' }))
    apps.push(app)
    await app.register(acmeCore, {
      brand: TEST_BRAND,
      mail: { transport: 'memory' },
      prisma,
      migrations: { dir: migrations },
    })
    await expect(app.ready()).resolves.toBeDefined()
    expect(lines.join('')).toContain('could not read _prisma_migrations')
  })
})

describe('an app without @acme/cli', () => {
  const prisma: PrismaClientLike = {
    $connect: async () => {},
    $disconnect: async () => {},
    $queryRaw: <T>() => Promise.resolve([] as T),
  }

  it('is refused when it has a migrations folder, naming the package and the way out', async () => {
    const { migrations } = appFolder()
    const check = checkMigrations({
      prisma,
      setting: { dir: migrations },
      logger: silentLogger,
      cwd: savedCwd,
      loadTool: async () => null,
    })
    await expect(check).rejects.toMatchObject({ code: 'ACME_CORE_MIGRATIONS_TOOL_MISSING' })
    await expect(check).rejects.toThrow(/pnpm add @acme\/cli.*migrations: false/)
  })

  it('starts when it has none', async () => {
    const { root } = appFolder()
    await expect(
      checkMigrations({
        prisma,
        setting: {},
        logger: silentLogger,
        cwd: join(root, 'elsewhere'),
        loadTool: async () => null,
      }),
    ).resolves.toBeUndefined()
  })
})
