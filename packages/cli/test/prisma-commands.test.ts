import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const realPrisma = dirname(createRequire(import.meta.url).resolve('prisma/package.json'))

/**
 * `acme` as a user runs it: no PRISMA_SCHEMA_ENGINE_BINARY unless the test sets one, and no
 * NODE_PATH (pnpm's bin shims set one that would find the workspace's Prisma from anywhere).
 */
function acme(cwd: string, args: string[], env: Record<string, string> = {}) {
  const { PRISMA_SCHEMA_ENGINE_BINARY: _engine, NODE_PATH: _nodePath, ...userEnv } = process.env
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...userEnv, ...env },
  })
  return { code: result.status, out: result.stdout, err: result.stderr }
}

interface FakeRun {
  argv: string[]
  engine: string | null
  engineExists: boolean
}

/** What the stand-in Prisma CLI saw: its arguments and the engine variable. */
function fakeRun(out: string): FakeRun {
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as FakeRun
}

let fakeApp: string
let realApp: string

beforeAll(() => {
  // An app whose "prisma" is a stand-in that reports how acme started it.
  fakeApp = mkdtempSync(join(tmpdir(), 'acme-prisma-fake-'))
  writeFileSync(join(fakeApp, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  const fake = join(fakeApp, 'node_modules/prisma')
  mkdirSync(join(fake, 'build'), { recursive: true })
  writeFileSync(join(fake, 'package.json'), JSON.stringify({ name: 'prisma', version: '0.0.0' }))
  writeFileSync(
    join(fake, 'build/index.js'),
    `const { existsSync } = require('node:fs')
const engine = process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? null
console.log(JSON.stringify({ argv: process.argv.slice(2), engine, engineExists: engine !== null && existsSync(engine) }))
`,
  )

  // An app with the real Prisma CLI and a schema, to run it with no network.
  realApp = mkdtempSync(join(tmpdir(), 'acme-prisma-real-'))
  writeFileSync(join(realApp, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  mkdirSync(join(realApp, 'node_modules'))
  symlinkSync(realPrisma, join(realApp, 'node_modules/prisma'), 'dir')
  mkdirSync(join(realApp, 'prisma'))
  writeFileSync(
    join(realApp, 'prisma/schema.prisma'),
    'datasource db {\n  provider = "postgresql"\n}\n\nmodel Note {\n  id Int @id\n}\n',
  )
})

afterAll(() => {
  rmSync(fakeApp, { recursive: true, force: true })
  rmSync(realApp, { recursive: true, force: true })
})

describe('acme prisma <command>', () => {
  it.each([
    ['generate', ['generate', '--schema', 'SCHEMA']],
    ['validate', ['validate', '--schema', 'SCHEMA']],
    ['format', ['format', '--schema', 'SCHEMA']],
    ['version', ['version']],
    ['studio', ['studio']],
  ])('runs prisma %s with the engine download switched off', (command, expected) => {
    const run = acme(fakeApp, ['prisma', command])
    expect(run.code).toBe(0)
    const seen = fakeRun(run.out)
    expect(seen.argv).toEqual(
      expected.map((arg) => (arg === 'SCHEMA' ? join(fakeApp, 'prisma/schema.prisma') : arg)),
    )
    expect(seen.engine).not.toBeNull()
    expect(seen.engineExists).toBe(true)
  })

  it('keeps an engine path the user set', () => {
    const run = acme(fakeApp, ['prisma', 'version'], { PRISMA_SCHEMA_ENGINE_BINARY: '/bin/sh' })
    expect(fakeRun(run.out).engine).toBe('/bin/sh')
  })

  it("hands what follows -- to Prisma, and studio's --url", () => {
    const run = acme(fakeApp, [
      'prisma',
      'studio',
      '--url',
      'postgresql://localhost/app',
      '--',
      '--port',
      '5556',
    ])
    expect(fakeRun(run.out).argv).toEqual([
      'studio',
      '--url',
      'postgresql://localhost/app',
      '--port',
      '5556',
    ])
    const checked = acme(fakeApp, ['prisma', 'format', '--check'])
    expect(fakeRun(checked.out).argv).toContain('--check')
  })

  it.each([
    ['migrate', ['migrate', 'deploy'], /acme migrate apply/],
    ['db', ['db', 'push'], /acme migrate diff/],
    ['an unknown command', ['platform'], /npx prisma platform/],
  ])('refuses %s, naming what to run instead, without starting Prisma', (_label, args, hint) => {
    const run = acme(fakeApp, ['prisma', ...args])
    expect(run.code).toBe(1)
    expect(run.err).toMatch(/^ACME_CLI_PRISMA_COMMAND_UNSUPPORTED: /)
    expect(run.err).toMatch(hint)
    expect(run.out).toBe('')
  })

  it('says how to install Prisma when the app has none', () => {
    const bare = mkdtempSync(join(tmpdir(), 'acme-prisma-none-'))
    try {
      writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'app', private: true }))
      const run = acme(bare, ['prisma', 'version'])
      expect(run.code).toBe(1)
      expect(run.err).toMatch(/^ACME_CLI_PRISMA_NOT_INSTALLED: .*add -D prisma/)
    } finally {
      rmSync(bare, { recursive: true, force: true })
    }
  })

  it('runs the real Prisma CLI offline with no engine variable set', () => {
    const validate = acme(realApp, ['prisma', 'validate'])
    expect(validate.err).not.toMatch(/binaries\.prisma\.sh/)
    expect(validate.code).toBe(0)
    const version = acme(realApp, ['prisma', 'version'])
    expect(version.code).toBe(0)
    expect(version.out).toMatch(/prisma\s*:\s*7\./i)
    expect(existsSync(join(realApp, 'node_modules/prisma/build/index.js'))).toBe(true)
  })
})
