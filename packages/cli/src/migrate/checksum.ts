import { createHash } from 'node:crypto'

/** What Prisma stores in `_prisma_migrations.checksum`: sha256 of migration.sql, lower-case hex. */
export function migrationChecksum(script: string): string {
  return createHash('sha256').update(script, 'utf8').digest('hex')
}

/**
 * Prisma's own comparison: line endings do not count (git may rewrite them on checkout), and
 * rows written by early Prisma versions hold hex without zero padding.
 */
export function scriptMatchesChecksum(script: string, checksum: string): boolean {
  const variants = [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')]
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant, 'utf8').digest()
    const rendered =
      checksum.length === 64 || checksum === ''
        ? digest.toString('hex')
        : Array.from(digest, (byte) => byte.toString(16)).join('')
    return rendered === checksum
  })
}
