import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { MergeError, mergeSchema } from '../src/merge/index.js'
import { fixturesDir, snapshotBytes } from './fixtures/merge/workspace.js'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
}

/** A plugin package as its npm tarball ships it: package.json, prisma/<name>.prisma and .sql. */
function writePlugin(dir: string, name: string, fragment: string, withSql: boolean): void {
  mkdirSync(join(dir, 'prisma'), { recursive: true })
  cpSync(
    join(fixturesDir, 'fragments', `${fragment}.prisma`),
    join(dir, `prisma/${fragment}.prisma`),
  )
  if (withSql)
    cpSync(join(fixturesDir, 'fragments', `${fragment}.sql`), join(dir, `prisma/${fragment}.sql`))
  writeJson(join(dir, 'package.json'), {
    name,
    version: '1.2.3',
    acme: {
      prismaFragment: `prisma/${fragment}.prisma`,
      ...(withSql ? { prismaSql: `prisma/${fragment}.sql` } : {}),
    },
  })
}

/**
 * An app whose node_modules holds `@acme/users` as a plain folder, `@acme/teams` as a symlink
 * to a package elsewhere (as pnpm links workspace packages), and a dependency with no fragment.
 */
function appWithInstalledPlugins(): string {
  const root = mkdtempSync(join(tmpdir(), 'acme-discover-'))
  cleanups.push(() => rmSync(root, { recursive: true, force: true }))
  const app = join(root, 'app')
  mkdirSync(join(app, 'prisma/app'), { recursive: true })
  cpSync(join(fixturesDir, 'app-file/schema.prisma'), join(app, 'prisma/app/schema.prisma'))
  writeJson(join(app, 'package.json'), {
    name: 'my-app',
    dependencies: { '@acme/users': '1.2.3', 'left-pad': '1.0.0', 'not-installed': '1.0.0' },
    devDependencies: { '@acme/teams': 'workspace:*' },
  })
  writePlugin(join(app, 'node_modules/@acme/users'), '@acme/users', 'users', false)
  writePlugin(join(root, 'packages/teams'), '@acme/teams', 'teams', true)
  symlinkSync(join(root, 'packages/teams'), join(app, 'node_modules/@acme/teams'), 'dir')
  mkdirSync(join(app, 'node_modules/left-pad'), { recursive: true })
  writeJson(join(app, 'node_modules/left-pad/package.json'), { name: 'left-pad', version: '1.0.0' })
  return app
}

describe('mergeSchema: discovery through package.json', () => {
  test("finds the fragments of the app's installed dependencies, symlinked or not", async () => {
    const app = appWithInstalledPlugins()
    const result = await mergeSchema({
      cwd: app,
      input: 'prisma/app',
      output: 'prisma/schema.prisma',
      mode: 'write',
    })
    const schema = result.files['prisma/schema.prisma'] ?? ''
    expect(schema).toContain('// from @acme/teams (prisma/teams.prisma)\n')
    expect(schema).toContain('// from @acme/users (prisma/users.prisma)\n')
    expect(schema).toContain('// extended by @acme/teams (prisma/teams.prisma:25)')
    expect(schema).not.toContain('node_modules')
    expect(result.manifest.fragments).toEqual([
      { source: 'app', version: null, models: ['Project'], tenantOwned: [], sql: null },
      {
        source: '@acme/teams',
        version: '1.2.3',
        models: ['Membership', 'Team'],
        tenantOwned: ['Membership'],
        sql: 'ALTER TABLE "Membership" ENABLE ROW LEVEL SECURITY;\n',
      },
      { source: '@acme/users', version: '1.2.3', models: ['User'], tenantOwned: [], sql: null },
    ])
  })

  test('an explicit fragment that is also discovered is merged once', async () => {
    const app = appWithInstalledPlugins()
    const result = await mergeSchema({
      cwd: app,
      input: 'prisma/app/schema.prisma',
      output: 'prisma/schema.prisma',
      fragments: ['node_modules/@acme/teams'],
      mode: 'dry-run',
    })
    expect(result.manifest.fragments.map((fragment) => fragment.source)).toEqual([
      'app',
      '@acme/teams',
      '@acme/users',
    ])
  })

  test('a package.json fragment path outside the package is refused', async () => {
    const app = appWithInstalledPlugins()
    writeJson(join(app, 'node_modules/@acme/users/package.json'), {
      name: '@acme/users',
      version: '1.2.3',
      acme: { prismaFragment: '../../../prisma/app/schema.prisma' },
    })
    const before = snapshotBytes(join(app, 'prisma'))
    const error = await mergeSchema({
      cwd: app,
      input: 'prisma/app',
      output: 'prisma/schema.prisma',
      mode: 'write',
    }).catch((thrown: unknown) => thrown)
    expect(error).toBeInstanceOf(MergeError)
    expect((error as MergeError).code).toBe('ACME_CLI_FRAGMENT_INVALID')
    expect((error as MergeError).message).toContain('points outside the package')
    expect(snapshotBytes(join(app, 'prisma'))).toEqual(before)
  })
})
