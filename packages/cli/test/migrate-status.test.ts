import { describe, expect, it } from 'vitest'
import { scriptMatchesChecksum } from '../src/migrate/checksum.js'
import { compareHistory } from '../src/migrate/compare.js'
import type { MigrationRecord } from '../src/migrate/history.js'
import { formatStatus, migrationChecksum } from '../src/migrate/index.js'

const record = (name: string, script: string, overrides: Partial<MigrationRecord> = {}) => ({
  name,
  checksum: migrationChecksum(script),
  finished: true,
  rolledBack: false,
  startedAt: '2025-01-01 00:00:00+00',
  logs: null,
  ...overrides,
})

describe('compareHistory', () => {
  const onDisk = [
    { name: '1_init', script: 'A;\n' },
    { name: '2_edited', script: 'B changed;\n' },
    { name: '3_failed', script: 'C;\n' },
    { name: '4_retried', script: 'D;\n' },
    { name: '5_new', script: 'E;\n' },
  ]

  it("sorts migrations the way Prisma's engine does", () => {
    const status = compareHistory(onDisk, [
      record('1_init', 'A;\n'),
      record('2_edited', 'B;\n'),
      record('3_failed', 'C;\n', { finished: false, logs: 'boom' }),
      // Rolled back rows are history only: the retry row decides.
      record('4_retried', 'D;\n', { finished: false, rolledBack: true }),
      record('4_retried', 'D;\n'),
      // Rows without a folder (another branch's migration) are not reported.
      record('0_elsewhere', 'Z;\n'),
    ])
    expect(status).toStrictEqual({
      applied: ['1_init', '4_retried'],
      pending: ['5_new'],
      changed: ['2_edited'],
      failed: ['3_failed'],
    })
  })
})

describe('checksums', () => {
  it('is sha256 hex and ignores line endings, like Prisma', () => {
    expect(migrationChecksum('hello')).toBe(
      '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    )
    expect(scriptMatchesChecksum('a\r\nb\r\n', migrationChecksum('a\nb\n'))).toBe(true)
    expect(scriptMatchesChecksum('a\nb\n', migrationChecksum('a\r\nb\r\n'))).toBe(true)
    expect(scriptMatchesChecksum('abc\n', migrationChecksum('abc'))).toBe(false)
  })
})

describe('formatStatus', () => {
  it('lists every state, then what to do', () => {
    expect(
      formatStatus({ applied: ['1_init'], pending: ['5_new'], changed: ['2_edited'], failed: [] }),
    ).toBe(
      [
        'Applied (1):',
        '  1_init',
        'Pending (1):',
        '  5_new',
        'Changed since applied (1):',
        '  2_edited',
        '',
        'Applied migrations must not be edited: restore them from version control and put the ' +
          'change in a new migration (`acme migrate diff`).',
        '',
      ].join('\n'),
    )
  })

  it('says when the database is up to date, or has nothing to apply', () => {
    expect(formatStatus({ applied: ['1_init'], pending: [], changed: [], failed: [] })).toBe(
      'Applied (1):\n  1_init\n\nDatabase schema is up to date.\n',
    )
    expect(formatStatus({ applied: [], pending: [], changed: [], failed: [] })).toBe(
      'No migrations found.\n',
    )
    expect(formatStatus({ applied: [], pending: ['1_init'], changed: [], failed: [] })).toContain(
      'Run `acme migrate apply`',
    )
    expect(formatStatus({ applied: [], pending: [], changed: [], failed: ['3_x'] })).toContain(
      "WHERE migration_name IN ('3_x')",
    )
  })
})
