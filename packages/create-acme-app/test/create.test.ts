import { execFileSync } from 'node:child_process'
import { createPrivateKey, createPublicKey, type JsonWebKey, sign, verify } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createProject } from '../src/index.js'

const newDir = () => join(mkdtempSync(join(tmpdir(), 'create-acme-app-')), 'my-saas')
const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8')

/** The .env as the app will see it: through Node's own loader, in a process of its own. */
function loadedEnv(dir: string): Record<string, string | undefined> {
  const script =
    "process.loadEnvFile('.env'); const e = process.env; console.log(JSON.stringify({ BRAND_NAME: e.BRAND_NAME, DATABASE_URL: e.DATABASE_URL, JWT_PRIVATE_KEYS: e.JWT_PRIVATE_KEYS }))"
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }))
}

describe('createProject', () => {
  it('writes a starter project: the starter’s files, one tenant, no workspace or test leftovers', () => {
    const directory = newDir()
    const created = createProject({
      directory,
      name: 'globex-api',
      brand: 'Globex #1',
      tier: 'starter',
      databaseUrl: null,
    })
    expect(created.planned).toEqual([])
    for (const file of [
      '.env',
      '.env.example',
      '.gitignore',
      'README.md',
      'tsconfig.json',
      'src/server.ts',
      'prisma/app/schema.prisma',
      'prisma/schema.prisma',
    ]) {
      expect(existsSync(join(directory, file)), file).toBe(true)
    }
    expect(existsSync(join(directory, '_gitignore'))).toBe(false)
    expect(existsSync(join(directory, 'test'))).toBe(false)
    expect(read(directory, '.gitignore')).toContain('.env')
    expect(
      readdirSync(join(directory, 'prisma', 'migrations')).some((name) => name.endsWith('_init')),
    ).toBe(true)

    const pkg = JSON.parse(read(directory, 'package.json'))
    expect(pkg.name).toBe('globex-api')
    const ranges = { ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>
    expect(Object.values(ranges).filter((range) => range.startsWith('workspace:'))).toEqual([])
    expect(ranges['@acme/core']).toMatch(/^\^\d+\.\d+\.\d+/)
    expect(Object.keys(ranges)).not.toContain('@acme/test-support')
    expect(pkg.scripts.test).toBeUndefined()
    expect(read(directory, 'tsconfig.json')).not.toContain('extends')

    expect(read(directory, 'src/app.ts')).toContain(
      "await app.register(acmeTenancy, { plans, mode: 'single' })",
    )
  })

  it('fills .env so Node loads the brand as typed and a signing key that signs', () => {
    const directory = newDir()
    createProject({
      directory,
      name: 'initech',
      brand: 'Initech "Cloud" #2',
      tier: 'pro',
      databaseUrl: 'postgresql://app@db.internal:5432/initech',
    })
    const env = loadedEnv(directory)
    expect(env.BRAND_NAME).toBe('Initech "Cloud" #2')
    expect(env.DATABASE_URL).toBe('postgresql://app@db.internal:5432/initech')
    const keys = JSON.parse(env.JWT_PRIVATE_KEYS ?? '[]') as Array<
      JsonWebKey & { kid?: string; alg?: string }
    >
    expect(keys).toHaveLength(1)
    const [jwk] = keys
    expect(jwk).toMatchObject({ alg: 'EdDSA', use: 'sig', kid: expect.any(String) })
    const privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })
    const signature = sign(null, Buffer.from('payload'), privateKey)
    expect(verify(null, Buffer.from('payload'), createPublicKey(privateKey), signature)).toBe(true)
    // Every comment of the example stays, so the file explains itself.
    expect(read(directory, '.env')).toContain('# --- auth ---')
  })

  it('gives each project its own key', () => {
    const first = newDir()
    const second = newDir()
    createProject({ directory: first, name: 'a', brand: 'A', tier: 'pro', databaseUrl: null })
    createProject({ directory: second, name: 'b', brand: 'B', tier: 'pro', databaseUrl: null })
    expect(loadedEnv(first).JWT_PRIVATE_KEYS).not.toBe(loadedEnv(second).JWT_PRIVATE_KEYS)
  })

  it('runs many tenants on pro and enterprise, naming the plugins those tiers are still waiting for', () => {
    const directory = newDir()
    const created = createProject({
      directory,
      name: 'umbrella',
      brand: 'Umbrella',
      tier: 'enterprise',
      databaseUrl: null,
    })
    expect(read(directory, 'src/app.ts')).toContain('await app.register(acmeTenancy, { plans })\n')
    expect(created.planned).toContain('@acme/admin')
  })

  it('refuses a folder that is not empty, a bad name and a multi-line brand, writing nothing', () => {
    const directory = newDir()
    mkdirSync(directory, { recursive: true })
    writeFileSync(join(directory, 'notes.txt'), 'mine')
    expect(() =>
      createProject({ directory, name: 'x', brand: 'X', tier: 'pro', databaseUrl: null }),
    ).toThrow(expect.objectContaining({ code: 'ACME_CREATE_TARGET_NOT_EMPTY' }))
    expect(readdirSync(directory)).toEqual(['notes.txt'])

    const fresh = newDir()
    expect(() =>
      createProject({
        directory: fresh,
        name: 'Has Spaces',
        brand: 'X',
        tier: 'pro',
        databaseUrl: null,
      }),
    ).toThrow(expect.objectContaining({ code: 'ACME_CREATE_NAME_INVALID' }))
    expect(() =>
      createProject({
        directory: fresh,
        name: 'ok',
        brand: 'line\nbreak',
        tier: 'pro',
        databaseUrl: null,
      }),
    ).toThrow(expect.objectContaining({ code: 'ACME_CREATE_BRAND_INVALID' }))
    expect(existsSync(fresh)).toBe(false)
  })

  it('points the acme dependencies at packed tarballs, and refuses a folder missing one', () => {
    const packages = mkdtempSync(join(tmpdir(), 'create-acme-app-packages-'))
    // One tarball per @acme package the template depends on (the example's plugins).
    const template = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', 'template', 'package.json'), 'utf8'),
    ) as { dependencies: Record<string, string> }
    const names = Object.keys(template.dependencies)
      .filter((name) => name.startsWith('@acme/'))
      .map((name) => name.replace('@acme/', 'acme-'))
    expect(names).toEqual(expect.arrayContaining(['acme-core', 'acme-tenancy', 'acme-rbac']))
    // A package whose name starts like core's, which must not pass for it.
    for (const stem of [...names, 'acme-core-extra']) {
      writeFileSync(join(packages, `${stem}-0.1.0.tgz`), '')
    }
    const directory = newDir()
    createProject({
      directory,
      name: 'air-gapped',
      brand: 'X',
      tier: 'pro',
      databaseUrl: null,
      packagesDir: packages,
    })
    const { dependencies } = JSON.parse(read(directory, 'package.json')) as {
      dependencies: Record<string, string>
    }
    expect(dependencies['@acme/core']).toBe(`file:${join(packages, 'acme-core-0.1.0.tgz')}`)
    expect(dependencies['@acme/tenancy']).toBe(`file:${join(packages, 'acme-tenancy-0.1.0.tgz')}`)
    expect(dependencies.fastify).toMatch(/^\d/)

    rmSync(join(packages, 'acme-rbac-0.1.0.tgz'))
    const refused = newDir()
    expect(() =>
      createProject({
        directory: refused,
        name: 'x',
        brand: 'X',
        tier: 'pro',
        databaseUrl: null,
        packagesDir: packages,
      }),
    ).toThrow(expect.objectContaining({ code: 'ACME_CREATE_PACKAGES_MISSING' }))
    expect(existsSync(refused)).toBe(false)
  })
})
