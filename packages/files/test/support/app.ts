import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import acmeAuth from '@acme/auth'
import type { CoreOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import acmeTenancy from '@acme/tenancy'
import {
  type AppRoleTestApp,
  bearer,
  createAppRoleTestApp,
  createTenant,
  schemaMigrationsDir,
  signUp,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeFiles, { type FilesOptions } from '../../src/index.js'

export const migrationsDir = schemaMigrationsDir()
export { bearer, createTenant, signUp }

export const newKey = (): string => randomBytes(32).toString('base64')

export interface FilesTestApp extends AppRoleTestApp {
  /** The local driver's folder (a fresh temporary one), unless the test gave a driver. */
  directory: string
}

export interface FilesHarness {
  core?: Partial<CoreOptions>
  /** Real Redis (default), or none: core's in-process jobs, driven by `core.jobs.clock`. */
  redis?: boolean
  tenancy?: Record<string, unknown>
  routes?: (app: FastifyInstance) => void | Promise<void>
}

/** Core, auth, tenancy, rbac and files on a fresh database (as the app role) and temp folder. */
export async function createFilesApp(
  options: Partial<FilesOptions> = {},
  harness: FilesHarness = {},
): Promise<FilesTestApp> {
  const directory = await mkdtemp(join(tmpdir(), 'acme-files-'))
  const t = await createAppRoleTestApp({
    label: 'files',
    migrationsDir,
    PrismaClient,
    ...(harness.core ? { core: harness.core } : {}),
    ...(harness.redis === false ? { redis: false } : {}),
    setup: async (instance) => {
      await instance.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
      await instance.register(acmeTenancy, harness.tenancy ?? {})
      await instance.register(acmeRbac, {})
      await instance.register(acmeFiles, {
        signingKey: newKey(),
        ...(options.storage ? {} : { localDirectory: directory }),
        ...options,
      })
      await harness.routes?.(instance)
    },
  })
  const close = t.close.bind(t)
  return Object.assign(t, {
    directory,
    async close() {
      await close()
      await rm(directory, { recursive: true, force: true })
    },
  })
}

/** Every file under `directory`, as paths relative to it. */
export async function filesOn(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true })
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(directory.length + 1))
    .sort()
}

/** Runs SQL on a connection of its own (the owner's: sees every tenant). */
export async function sql<Row extends Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<Row>(text, values)).rows
  } finally {
    await client.end()
  }
}

export interface FilePart {
  field?: string
  name: string
  type?: string
  content: Buffer | string
}

/** A multipart/form-data body, built by hand so tests control every byte of it. */
export function multipart(
  files: FilePart[],
  fields: Record<string, string> = {},
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----acme${randomBytes(8).toString('hex')}`
  const chunks: Buffer[] = []
  for (const [name, value] of Object.entries(fields)) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`),
      Buffer.from(value),
      Buffer.from('\r\n'),
    )
  }
  for (const file of files) {
    const type = file.type === undefined ? '' : `Content-Type: ${file.type}\r\n`
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'file'}"; filename="${file.name}"\r\n${type}\r\n`,
        'utf8',
      ),
      Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content),
      Buffer.from('\r\n'),
    )
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  }
}

/** A real 1x1 PNG. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
)

/** The first bytes of a Linux ELF executable, a Windows PE executable, and an HTML page. */
export const ELF = Buffer.concat([
  Buffer.from([
    0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3e, 0, 1, 0, 0, 0,
  ]),
  Buffer.alloc(200),
])
export const PE = (() => {
  const bytes = Buffer.alloc(512)
  bytes.write('MZ', 0, 'latin1')
  bytes.writeUInt32LE(0x80, 0x3c)
  bytes.write('PE\0\0', 0x80, 'latin1')
  return bytes
})()
export const HTML = Buffer.from(
  '<!DOCTYPE html><html><body><script>alert(1)</script></body></html>',
)

/** A signed-in owner of a fresh tenant. */
export async function ownerOfNewTenant(t: FilesTestApp, email: string, name: string) {
  const user = await signUp(t, email)
  const tenant = await createTenant(t, user.token, name)
  return { ...user, tenantId: tenant.id, headers: bearer(user.token) }
}
