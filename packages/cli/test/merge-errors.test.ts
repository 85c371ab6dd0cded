import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { MergeError, type MergeOptions, mergeSchema } from '../src/merge/index.js'
import { fixtureMerge, makeWorkspace, snapshotBytes } from './fixtures/merge/workspace.js'

const cleanups: (() => void)[] = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

function workspace(): string {
  const { dir, cleanup } = makeWorkspace('app-file', 'app-folder', 'fragments', 'broken')
  cleanups.push(cleanup)
  return dir
}

const options = fixtureMerge

async function mergeError(merge: MergeOptions): Promise<MergeError> {
  const error = await mergeSchema(merge).then(
    () => null,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(MergeError)
  return error as MergeError
}

describe('mergeSchema: errors name the file and line', () => {
  test('an unclosed brace is a syntax error at the block that is left open', async () => {
    const cwd = workspace()
    const error = await mergeError(options(cwd, { fragments: ['broken/unclosed.prisma'] }))
    expect(error.code).toBe('ACME_CLI_FRAGMENT_SYNTAX')
    expect(error.message).toContain('broken/unclosed.prisma:1:')
    expect(error.message).toContain('`model Team {` is not closed before line 5')
    expect(error.locations).toEqual([{ file: 'broken/unclosed.prisma', line: 1 }])
  })

  test('a brace never closed at the end of the file', async () => {
    const cwd = workspace()
    writeFileSync(
      join(cwd, 'broken/eof.prisma'),
      'model A {\n  id String @id\n\nmodel B {\n  id String @id\n}\n\nenum E {\n  X\n',
    )
    const error = await mergeError(options(cwd, { fragments: ['broken/eof.prisma'] }))
    expect(error.code).toBe('ACME_CLI_FRAGMENT_SYNTAX')
    expect(error.message).toContain('broken/eof.prisma:1:')
  })

  test("an unknown type is Prisma's own error, mapped to the fragment's file and line", async () => {
    const cwd = workspace()
    const error = await mergeError(
      options(cwd, { fragments: ['fragments/users.prisma', 'broken/unknown-type.prisma'] }),
    )
    expect(error.code).toBe('ACME_CLI_SCHEMA_INVALID')
    expect(error.message).toContain(
      'broken/unknown-type.prisma:4: Type "Person" is neither a built-in type',
    )
    expect(error.message).toContain('put the field in an `extend model` block')
    expect(error.locations).toEqual([{ file: 'broken/unknown-type.prisma', line: 4 }])
  })

  test("an error in a folded extension points at the extension's line", async () => {
    const cwd = workspace()
    writeFileSync(
      join(cwd, 'broken/bad-extend.prisma'),
      'model Badge {\n  id String @id\n}\n\nextend model User {\n  badge Badge @relation(fields: [missingId], references: [id])\n}\n',
    )
    const error = await mergeError(
      options(cwd, { fragments: ['fragments/users.prisma', 'broken/bad-extend.prisma'] }),
    )
    expect(error.code).toBe('ACME_CLI_SCHEMA_INVALID')
    expect(error.locations.map((location) => `${location.file}:${location.line}`)).toContain(
      'broken/bad-extend.prisma:6',
    )
  })

  test('a model defined twice names both files and lines', async () => {
    const cwd = workspace()
    const error = await mergeError(
      options(cwd, { fragments: ['fragments/users.prisma', 'broken/duplicate-user.prisma'] }),
    )
    expect(error.code).toBe('ACME_CLI_DUPLICATE_MODEL')
    expect(error.message).toContain('broken/duplicate-user.prisma:5')
    expect(error.message).toContain('fragments/users.prisma:2')
  })

  test("a fragment model clashing with the app's own model", async () => {
    const cwd = workspace()
    writeFileSync(join(cwd, 'broken/project.prisma'), '\nmodel Project {\n  id String @id\n}\n')
    const error = await mergeError(options(cwd, { fragments: ['broken/project.prisma'] }))
    expect(error.code).toBe('ACME_CLI_DUPLICATE_MODEL')
    expect(error.locations).toEqual([
      { file: 'app-file/schema.prisma', line: 12 },
      { file: 'broken/project.prisma', line: 2 },
    ])
  })

  test('a fragment may not declare a datasource', async () => {
    const cwd = workspace()
    writeFileSync(join(cwd, 'broken/ds.prisma'), 'datasource db {\n  provider = "sqlite"\n}\n')
    const error = await mergeError(options(cwd, { fragments: ['broken/ds.prisma'] }))
    expect(error.code).toBe('ACME_CLI_FRAGMENT_INVALID')
    expect(error.message).toContain('broken/ds.prisma:1')
  })

  test('a misspelt @acme marker is an error, not a silently unprotected model', async () => {
    const cwd = workspace()
    writeFileSync(
      join(cwd, 'broken/typo.prisma'),
      '/// @acme.tenantowned\nmodel T {\n  id String @id\n}\n',
    )
    const error = await mergeError(options(cwd, { fragments: ['broken/typo.prisma'] }))
    expect(error.code).toBe('ACME_CLI_FRAGMENT_INVALID')
    expect(error.message).toContain('broken/typo.prisma:1: unknown marker `@acme.tenantowned`')
  })
})

describe('mergeSchema: tenant-owned models need a tenantId', () => {
  test('a tenant-owned model without tenantId is an error at the model', async () => {
    const cwd = workspace()
    writeFileSync(
      join(cwd, 'broken/no-tenant.prisma'),
      '// notes\n\n/// @acme.tenantOwned\nmodel Note {\n  id String @id\n  ownerId String\n}\n',
    )
    const error = await mergeError(options(cwd, { fragments: ['broken/no-tenant.prisma'] }))
    expect(error.code).toBe('ACME_CLI_TENANT_ID_MISSING')
    expect(error.message).toMatch(/^broken\/no-tenant\.prisma:4: model Note is marked/)
    expect(error.message).toContain('has no `tenantId` field')
    expect(error.locations).toEqual([{ file: 'broken/no-tenant.prisma', line: 4 }])
  })

  test("the app's own tenant-owned models are checked too", async () => {
    const cwd = workspace()
    const app = join(cwd, 'app-file/schema.prisma')
    writeFileSync(
      app,
      readFileSync(app, 'utf8').replace(
        "/// A product's own model",
        "/// @acme.tenantOwned\n/// A product's own model",
      ),
    )
    const error = await mergeError(options(cwd))
    expect(error.code).toBe('ACME_CLI_TENANT_ID_MISSING')
    expect(error.locations).toEqual([{ file: 'app-file/schema.prisma', line: 13 }])
  })

  test('a tenantId that is not a String is an error at the field', async () => {
    const cwd = workspace()
    writeFileSync(
      join(cwd, 'broken/int-tenant.prisma'),
      '/// @acme.tenantOwned\nmodel Note {\n  id       String @id\n  tenantId Int\n}\n',
    )
    const error = await mergeError(options(cwd, { fragments: ['broken/int-tenant.prisma'] }))
    expect(error.code).toBe('ACME_CLI_TENANT_ID_MISSING')
    expect(error.message).toContain(
      'broken/int-tenant.prisma:4: `tenantId` of tenant-owned model Note is `Int`',
    )
  })

  test('a tenantId added by an applied `extend model` block counts, and a comment does not', async () => {
    const cwd = workspace()
    writeFileSync(
      join(cwd, 'broken/extended-tenant.prisma'),
      [
        '/// @acme.tenantOwned',
        'model Note {',
        '  id String @id',
        '  // tenantId String',
        '}',
        '',
        'extend model Note {',
        '  tenantId String @db.Uuid',
        '}',
      ].join('\n'),
    )
    const result = await mergeSchema(
      options(cwd, { fragments: ['broken/extended-tenant.prisma'], mode: 'dry-run' }),
    )
    expect(
      result.manifest.fragments.find((f) => f.source === 'broken/extended-tenant.prisma'),
    ).toMatchObject({ tenantOwned: ['Note'] })
  })
})

describe('mergeSchema: it never writes where it must not', () => {
  test('refuses an output that is the input or inside the input folder', async () => {
    const cwd = workspace()
    const before = snapshotBytes(cwd)
    for (const merge of [
      options(cwd, { output: 'app-file/schema.prisma' }),
      options(cwd, { input: 'app-folder/schema', output: 'app-folder/schema/merged.prisma' }),
      options(cwd, { input: 'app-folder/schema', output: 'app-folder/schema/acme' }),
      options(cwd, { input: 'app-folder/schema', output: 'app-folder' }),
    ]) {
      const error = await mergeError(merge)
      expect(error.code).toBe('ACME_CLI_OUTPUT_OVERLAPS_INPUT')
    }
    expect(snapshotBytes(cwd)).toEqual(before)
  })

  test('refuses to overwrite a schema file it did not generate', async () => {
    const cwd = workspace()
    mkdirSync(join(cwd, 'prisma'))
    writeFileSync(join(cwd, 'prisma/schema.prisma'), 'model Mine {\n  id String @id\n}\n')
    const error = await mergeError(options(cwd))
    expect(error.code).toBe('ACME_CLI_OUTPUT_NOT_GENERATED')
    expect(error.message).toContain('prisma/schema.prisma')
  })

  test("refuses folder output that would need to change one of the app's models", async () => {
    const cwd = workspace()
    const error = await mergeError(
      options(cwd, {
        input: 'app-folder/schema',
        output: 'app-folder/acme',
        fragments: ['fragments/audit.prisma'],
      }),
    )
    expect(error.code).toBe('ACME_CLI_EXTEND_NEEDS_SINGLE_FILE')
    expect(error.message).toContain('fragments/audit.prisma:13')
    expect(error.message).toContain('app-folder/schema/project.prisma:1')
  })
})
