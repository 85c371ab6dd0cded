import { existsSync } from 'node:fs'
import { isAbsolute, relative, resolve } from 'node:path'
import type { Logger } from '../logger.js'
import { AcmeMigrationsError } from './migrations-error.js'
import type { PrismaClientLike } from './prisma.js'

/** Core's `migrations` option after validation: off, or the folder (default: the CLI's). */
export type MigrationsSetting = false | { dir?: string | undefined }

/** Where the database stands against the folder, by Prisma's rules (from @acme/cli). */
export interface MigrationsState {
  applied: string[]
  pending: string[]
  changed: string[]
  failed: string[]
}

/**
 * What the check needs of @acme/cli: the same status `acme migrate status` prints, and the same
 * folder `acme migrate` uses. Core does not bundle it (it carries the schema engines): the app
 * installs it, and it is loaded only when there is a folder to check.
 */
export interface MigrationsTool {
  migrateStatus(options: {
    migrationsDir: string
    target: { query(sql: string): Promise<readonly Record<string, unknown>[]> }
  }): Promise<MigrationsState>
  resolvePaths(cwd: string): { migrations: string }
}

export interface MigrationsCheckOptions {
  prisma: PrismaClientLike
  setting: MigrationsSetting
  logger: Logger
  /** Where relative folders start; the process's working directory. */
  cwd: string
  /** Loads @acme/cli; null when it is not installed. */
  loadTool: () => Promise<MigrationsTool | null>
}

const DEFAULT_DIR = 'prisma/migrations'

/**
 * Compares the app's migrations folder with `_prisma_migrations` through the app's own client,
 * and refuses to start when a migration is pending, failed or was edited after it was applied.
 * No folder, no check: an app that manages its schema another way is left alone. A database that
 * cannot be read (down, or a role without SELECT on `_prisma_migrations`) is logged and skipped:
 * readiness reports an outage, and the check is about the schema, not the connection.
 */
export async function checkMigrations(options: MigrationsCheckOptions): Promise<void> {
  const { setting, logger, cwd } = options
  if (setting === false) return
  const tool = await options.loadTool()
  const dir = resolve(cwd, setting.dir ?? tool?.resolvePaths(cwd).migrations ?? DEFAULT_DIR)
  const shown = displayPath(cwd, dir)
  if (!existsSync(dir)) {
    logger.debug({ migrations: shown }, 'no migrations folder: database schema not checked')
    return
  }
  if (tool === null) {
    throw new AcmeMigrationsError(
      'ACME_CORE_MIGRATIONS_TOOL_MISSING',
      `@acme/core: the app has a migrations folder (${shown}), and core compares it with the ` +
        'database at startup using @acme/cli, which is not installed. Install it next to core ' +
        '(`pnpm add @acme/cli`, or npm i), or turn the check off with the core option ' +
        '`migrations: false`.',
      { migrationsDir: dir },
    )
  }
  const queryRawUnsafe = options.prisma.$queryRawUnsafe?.bind(options.prisma)
  if (queryRawUnsafe === undefined) {
    logger.debug({ migrations: shown }, 'the Prisma client cannot run raw SQL: schema not checked')
    return
  }

  let state: MigrationsState
  try {
    state = await tool.migrateStatus({
      migrationsDir: dir,
      target: { query: (sql) => Promise.resolve(queryRawUnsafe<Record<string, unknown>[]>(sql)) },
    })
  } catch (error) {
    // A broken folder (a migration without its SQL file) is the app's to fix: refuse.
    if (isCliError(error)) throw error
    logger.warn(
      { err: error, migrations: shown },
      'could not read _prisma_migrations: starting without comparing the database with the ' +
        'migrations folder (the role needs SELECT on it; `acme db app-role` grants it)',
    )
    return
  }
  const refusal = refusalOf(state, dir, shown)
  if (refusal) throw refusal
  logger.info(
    { migrations: shown, applied: state.applied.length },
    'database schema matches the migrations folder',
  )
}

function refusalOf(state: MigrationsState, dir: string, shown: string): AcmeMigrationsError | null {
  if (state.failed.length > 0) {
    return new AcmeMigrationsError(
      'ACME_CORE_MIGRATIONS_FAILED',
      `@acme/core: migration ${state.failed.join(', ')} of ${shown} failed in an earlier run and ` +
        'may be half applied. `acme migrate status` says how to repair it; start the app again ' +
        'once `acme migrate apply` has applied everything.',
      { migrationsDir: dir, migrations: state.failed },
    )
  }
  if (state.changed.length > 0) {
    return new AcmeMigrationsError(
      'ACME_CORE_MIGRATIONS_CHANGED',
      `@acme/core: migration ${state.changed.join(', ')} of ${shown} was edited after it was ` +
        'applied (its migration.sql no longer matches the checksum in _prisma_migrations), so ' +
        'the database may not have the schema the app expects. Restore the applied version from ' +
        'version control and put the change in a new migration (`acme migrate diff`).',
      { migrationsDir: dir, migrations: state.changed },
    )
  }
  if (state.pending.length > 0) {
    const count = state.pending.length
    return new AcmeMigrationsError(
      'ACME_CORE_MIGRATIONS_PENDING',
      `@acme/core: the database lacks ${count} migration${count === 1 ? '' : 's'} of ${shown}:\n` +
        state.pending.map((name) => `  ${name}\n`).join('') +
        'Apply them before starting the app, as the owner of the tables: `npx acme migrate ' +
        'apply` (with DATABASE_URL, or --url). To apply them at every start instead, call ' +
        "migrateApply from @acme/cli before registering core (docs/prisma.md, 'Pending " +
        "migrations at startup'). The core option `migrations: false` turns this check off.",
      { migrationsDir: dir, migrations: state.pending },
    )
  }
  return null
}

function isCliError(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? Reflect.get(error, 'code') : undefined
  return typeof code === 'string' && code.startsWith('ACME_CLI_')
}

function displayPath(cwd: string, path: string): string {
  const inside = relative(cwd, path)
  return inside === '' || inside.startsWith('..') || isAbsolute(inside) ? path : inside
}
