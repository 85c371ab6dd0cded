/**
 * One core per app: two copies of @acme/core in one process (two plugin versions resolving
 * different cores, a hoisting accident, the ESM and CommonJS builds of one install) are refused
 * when core registers, naming each copy; an AcmeError made by another copy still renders as its
 * problem. The copies are real: the built dist/ and copies of it installed under temporary
 * node_modules folders, imported as an app would.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

import type { CoreOptions } from '../src/index.js'

type Core = typeof import('../src/index.js')
interface LoadedCore {
  version: string
  path: string
  format: string
}

const CORE_DIR = fileURLToPath(new URL('..', import.meta.url))
const DIST_ESM = join(CORE_DIR, 'dist', 'index.js')
const DIST_CJS = join(CORE_DIR, 'dist', 'index.cjs')
const VERSION_A: string = JSON.parse(readFileSync(join(CORE_DIR, 'package.json'), 'utf8')).version
const VERSION_B = '0.99.0'
const OPTIONS: CoreOptions = {
  brand: { name: 'Two Cores' },
  mail: { transport: 'memory' },
  docs: { enabled: false },
}

const REGISTRY = Symbol.for('acme.core.loadedCopies')
function registry(): Map<string, LoadedCore> {
  const holder = globalThis as { [REGISTRY]?: Map<string, LoadedCore> }
  holder[REGISTRY] ??= new Map()
  return holder[REGISTRY]
}
const registryBefore = new Map(registry())

const scratch = mkdtempSync(join(tmpdir(), 'acme-two-cores-'))
const apps: FastifyInstance[] = []

/**
 * Installs a copy of the built core as `<scratch>/<app>/node_modules/@acme/core` with the given
 * version, its dependencies resolving to the same packages core's do (as pnpm links them).
 */
function installCopy(app: string, version: string): string {
  const root = join(scratch, app, 'node_modules', '@acme', 'core')
  mkdirSync(root, { recursive: true })
  cpSync(join(CORE_DIR, 'dist'), join(root, 'dist'), { recursive: true })
  const manifest = JSON.parse(readFileSync(join(CORE_DIR, 'package.json'), 'utf8'))
  writeJson(join(root, 'package.json'), { ...manifest, version })
  symlinkSync(join(CORE_DIR, 'node_modules'), join(root, 'node_modules'), 'dir')
  if (version !== VERSION_A) {
    // The version is compiled in from package.json (tsup.config.ts): build it in as another
    // release would have.
    const file = join(root, 'dist', 'index.js')
    const source = readFileSync(file, 'utf8')
    const line = /^var CORE_VERSION = .*$/m.exec(source)?.[0]
    expect(line, 'dist/index.js declares CORE_VERSION').toContain(JSON.stringify(VERSION_A))
    const rebuilt = source.replace(
      line as string,
      (line as string).replaceAll(JSON.stringify(VERSION_A), JSON.stringify(version)),
    )
    writeFileSync(file, rebuilt)
  }
  return join(root, 'dist', 'index.js')
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)
}

async function load(file: string): Promise<Core> {
  return (await import(pathToFileURL(file).href)) as Core
}

function newApp(): FastifyInstance {
  const app = Fastify()
  apps.push(app)
  return app
}

/** Runs `work` as if only the copies at `paths` had been loaded so far. */
async function withOnly<T>(paths: string[], work: () => Promise<T>): Promise<T> {
  const saved = new Map(registry())
  for (const [key, copy] of saved) if (!paths.includes(copy.path)) registry().delete(key)
  try {
    return await work()
  } finally {
    for (const [key, copy] of saved) registry().set(key, copy)
  }
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close().catch(() => {})))
})

afterAll(() => {
  registry().clear()
  for (const [key, copy] of registryBefore) registry().set(key, copy)
  rmSync(scratch, { recursive: true, force: true })
})

let coreA: Core

describe('one copy of core', () => {
  beforeAll(async () => {
    expect(existsSync(DIST_ESM), 'build core first: pnpm --filter @acme/core build').toBe(true)
    coreA = await load(DIST_ESM)
  })

  it('records its version, format and path, and registers', async () => {
    expect([...registry().values()]).toEqual([
      { version: VERSION_A, path: DIST_ESM, format: 'esm' },
    ])
    const app = newApp()
    await app.register(coreA.acmeCore, OPTIONS)
    await app.ready()
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200)
  })
})

describe('another version of core in the same app', () => {
  let coreB: Core
  let fileB: string

  beforeAll(async () => {
    fileB = installCopy('plugin-b', VERSION_B)
    coreB = await load(fileB)
  })

  it('is refused when core registers, naming both versions and where they were loaded from', async () => {
    const app = newApp()
    app.register(coreA.acmeCore, OPTIONS)
    const error = await app.ready().then(
      () => null,
      (refusal: unknown) => refusal,
    )
    expect(error).toBeInstanceOf(coreA.AcmeConfigError)
    const { message } = error as Error
    expect(message).toContain('two copies of @acme/core are loaded')
    expect(message).toContain(`${VERSION_A} (esm) from ${DIST_ESM}`)
    expect(message).toContain(`${VERSION_B} (esm) from ${fileB}`)
    expect(message).toContain('peer dependency')
    expect(message).toContain('pnpm why @acme/core')
    expect((error as Error).stack).toContain('two copies of @acme/core')
  })

  it('is refused by either copy', async () => {
    const app = newApp()
    app.register(coreB.acmeCore, OPTIONS)
    await expect(app.ready()).rejects.toThrow(
      `two copies of @acme/core are loaded: ${VERSION_B} (esm) from ${fileB} and ${VERSION_A} (esm) from ${DIST_ESM}`,
    )
  })

  it("renders the other copy's AcmeError as its problem, not a 500", async () => {
    const OtherCopyError = coreB.defineError('ACME_TEST_OTHER_COPY', 422, 'Other Copy')
    // Past the refusal (as with a copy the registry cannot see), the brand still carries errors.
    await withOnly([DIST_ESM], async () => {
      const app = newApp()
      await app.register(coreA.acmeCore, OPTIONS)
      app.get('/defined', async () => {
        throw new OtherCopyError({ detail: 'Made by copy B.', headers: { 'x-copy': 'b' } })
      })
      app.get('/core-catalogue', async () => {
        throw new coreB.CoreErrors.Conflict()
      })
      app.get('/unbranded', async () => {
        throw Object.assign(new Error('looks like one'), {
          code: 'ACME_TEST_FORGED',
          statusCode: 400,
          title: 'Forged',
          detail: 'Not an AcmeError.',
        })
      })
      app.get('/branded-bad-shape', async () => {
        throw Object.assign(new Error('branded'), {
          [Symbol.for('acme.core.error')]: true,
          code: 'ACME_TEST_BAD_SHAPE',
          statusCode: '400',
          title: 'Bad Shape',
          detail: 'statusCode is not a number',
        })
      })
      await app.ready()

      const defined = await app.inject({ url: '/defined' })
      expect(defined.statusCode).toBe(422)
      expect(defined.headers['content-type']).toContain('application/problem+json')
      expect(defined.headers['x-copy']).toBe('b')
      expect(defined.json()).toMatchObject({
        code: 'ACME_TEST_OTHER_COPY',
        title: 'Other Copy',
        status: 422,
        detail: 'Made by copy B.',
        instance: '/defined',
      })

      const conflict = await app.inject({ url: '/core-catalogue' })
      expect(conflict.statusCode).toBe(409)
      expect(conflict.json()).toMatchObject({ code: 'ACME_CORE_CONFLICT', status: 409 })

      for (const url of ['/unbranded', '/branded-bad-shape']) {
        const forged = await app.inject({ url })
        expect(forged.statusCode, url).toBe(500)
        expect(forged.json().code, url).toBe('ACME_CORE_INTERNAL')
      }
    })
  })

  it("recognises the other copy's errors with isAcmeError and instanceof", () => {
    const fromB = new coreB.CoreErrors.NotFound()
    expect(fromB).not.toBe(coreA.CoreErrors.NotFound)
    expect(coreA.isAcmeError(fromB)).toBe(true)
    expect(fromB).toBeInstanceOf(coreA.AcmeError)
    expect(fromB).toBeInstanceOf(coreA.CoreErrors.NotFound)
    expect(fromB).not.toBeInstanceOf(coreA.CoreErrors.Conflict)
    expect(new coreA.CoreErrors.NotFound()).not.toBeInstanceOf(coreA.CoreErrors.Conflict)
    expect(new coreB.AcmeConfigError('@acme/test', ['x'])).toBeInstanceOf(coreA.AcmeConfigError)
    expect(coreA.isAcmeError({ code: 'ACME_X_Y', statusCode: 400, title: 't', detail: 'd' })).toBe(
      false,
    )
    expect(new Error('plain')).not.toBeInstanceOf(coreA.AcmeError)
  })
})

describe('the same version installed twice (a hoisting accident)', () => {
  it('is refused at ready when a plugin brings it in lazily, after core registered', async () => {
    const fileC = installCopy('plugin-c', VERSION_A)
    await withOnly([DIST_ESM], async () => {
      const app = newApp()
      await app.register(coreA.acmeCore, OPTIONS)
      // A plugin imported while the app loads (app.register(import('…'))) resolves its own core.
      app.register(async () => {
        await load(fileC)
      })
      await expect(app.ready()).rejects.toThrow(
        `two copies of @acme/core are loaded: ${VERSION_A} (esm) from ${DIST_ESM} and ${VERSION_A} (esm) from ${fileC}`,
      )
    })
  })
})

describe('the ESM and CommonJS builds of one install', () => {
  it('are two copies: refused, saying to load core one way', async () => {
    const coreCjs = createRequire(import.meta.url)(DIST_CJS) as Core
    await withOnly([DIST_ESM, DIST_CJS], async () => {
      const app = newApp()
      app.register(coreCjs.acmeCore, OPTIONS)
      const error = await app.ready().then(
        () => null,
        (refusal: unknown) => refusal as Error,
      )
      expect(error?.message).toContain(
        `${VERSION_A} (cjs) from ${DIST_CJS} and ${VERSION_A} (esm) from ${DIST_ESM}`,
      )
      expect(error?.message).toContain('The ESM and CommonJS builds of one install are two copies')
    })
  })
})
