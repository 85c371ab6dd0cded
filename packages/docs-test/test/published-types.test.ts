import { fileURLToPath } from 'node:url'
import { checkPublishedTypes } from '@acme/test-kit'
import { describe, expect, it } from 'vitest'
import { publishedPackages } from '../src/pack.js'

// Every published package's built declaration files, what a consumer's TypeScript reads (this
// package depends on each, so turbo builds them first): small, no inlined generated Prisma
// client, and no import of a package its package.json does not declare. A consumer has
// skipLibCheck on more often than not, and then an undeclared import is `any` with no error.
const root = fileURLToPath(new URL('../../..', import.meta.url))

describe('the published types of every published package', () => {
  it.each(publishedPackages(root))(
    '$name: small, no generated client, only declared imports',
    ({ dir }) => {
      expect(checkPublishedTypes(dir)).toEqual([])
    },
  )
})
