import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkPublishedTypes } from '../src/index.js'

/** A package folder with this package.json and these files under dist/. */
function fixture(manifest: Record<string, unknown>, dist: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'published-types-'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@acme/x', ...manifest }))
  for (const [file, text] of Object.entries(dist)) {
    mkdirSync(dirname(join(dir, 'dist', file)), { recursive: true })
    writeFileSync(join(dir, 'dist', file), text)
  }
  return dir
}

const CLEAN = [
  "import { FastifyInstance } from 'fastify';",
  "import type { Redis } from 'ioredis';",
  "import { createHash } from 'node:crypto';",
  "import { EventEmitter } from 'events';",
  "import { helper } from './chunk-AB12.js';",
  "import { AcmePrisma } from '@acme/core';",
  '/**',
  " * import { PrismaPg } from '@prisma/adapter-pg'",
  ' */',
  "// see import('undeclared')",
  'export declare function plugin(app: FastifyInstance): void;',
].join('\n')

describe('checkPublishedTypes', () => {
  it('accepts built-ins, its own files, and declared dependencies and peers; comments are not code', () => {
    const dir = fixture(
      {
        dependencies: { ioredis: '5.11.1' },
        peerDependencies: { fastify: '^5', '@acme/core': '^0' },
      },
      { 'index.d.ts': CLEAN, 'chunk-AB12.d.ts': 'export declare const helper: 1;' },
    )
    expect(checkPublishedTypes(dir)).toEqual([])
  })

  it('names an import of a package that is only a devDependency, or not declared at all', () => {
    const dir = fixture(
      { devDependencies: { ioredis: '5.11.1', '@prisma/client': '7.10.0' } },
      {
        'index.d.cts': [
          "import { Redis } from 'ioredis';",
          "import * as runtime from '@prisma/client/runtime/client';",
          "export type Later = import('zod').ZodType;",
        ].join('\n'),
      },
    )
    expect(checkPublishedTypes(dir)).toEqual([
      'dist/index.d.cts imports ioredis, but package.json does not declare ioredis (dependencies or peerDependencies)',
      'dist/index.d.cts imports @prisma/client/runtime/client, but package.json does not declare @prisma/client (dependencies or peerDependencies)',
      'dist/index.d.cts imports zod, but package.json does not declare zod (dependencies or peerDependencies)',
    ])
  })

  it('names a relative import the build left out of dist', () => {
    const dir = fixture(
      {},
      { 'index.d.ts': "import { Prisma } from './generated/prisma/client';\nexport {};" },
    )
    expect(checkPublishedTypes(dir)).toEqual([
      'dist/index.d.ts imports ./generated/prisma/client, which is not among the published files',
    ])
  })

  it('names an inlined generated Prisma client, and a file over the size budget', () => {
    const generated = [
      'interface Prisma__NoteClient<T> extends PrismaPromise<T> {}',
      'type $NotePayload = { name: "Note" };',
      `declare const padding: "${'x'.repeat(4096)}";`,
    ].join('\n')
    const dir = fixture({}, { 'index.d.ts': generated })
    expect(checkPublishedTypes(dir, { maxBytes: 1024 })).toEqual([
      'dist/index.d.ts is 4 KiB, over the 1 KiB budget',
      'dist/index.d.ts inlines a generated Prisma client (it declares Prisma__NoteClient)',
    ])
  })

  it('fails when there is nothing built to check', () => {
    expect(checkPublishedTypes(fixture({}, {}))).toEqual([
      'dist/ holds no declaration file: build the package first',
    ])
  })
})
