import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { manifestPathFor, resolvePaths } from './config.js'
import { appRoleCommand } from './db/app-role-command.js'
import { describeInit, initProject } from './init.js'
import { keysGenerateCommand } from './keys.js'
import type { MergeManifest } from './manifest.js'
import { mergeSchema } from './merge/index.js'
import { formatStatus, migrateApply, migrateDiff, migrateStatus } from './migrate/index.js'
import {
  isWrappedPrismaCommand,
  runPrismaCli,
  unsupportedPrismaCommand,
  wrappedPrismaArgs,
} from './prisma-cli.js'

const USAGE = `Usage: acme <command> [options]

  init              lay out the app's Prisma files: your schema in prisma/app/schema.prisma
                    (created, or moved there from prisma/schema.prisma); never overwrites
  prisma merge      merge the installed plugins' fragments with your schema
                    --input <file|dir> --output <file|dir> --dry-run --check
                    --fragment <file> (repeatable) adds a fragment by path
  prisma generate   Prisma's own generate, validate, format, version and studio, run
  prisma validate   with the engine download switched off (it fails offline); arguments
  prisma format     after -- go to Prisma as they are. format --check exits 1 when the
  prisma version    schema is not formatted; studio --url <url> browses a database.
  prisma studio
  migrate diff      write a new migration from the last snapshot to the schema
                    --name <name> --schema <file|dir> --migrations <dir>
  migrate apply     apply pending migrations (DATABASE_URL or --url)
  migrate status    list applied, pending, changed and failed migrations
  db app-role       create or fix the role the app connects as (no owner, no BYPASSRLS)
                    --role <name> --password-env <VAR> --url <url> --print
  keys generate     print a new JWT_PRIVATE_KEYS value (a JSON array of one private JWK)
                    --algorithm EdDSA|ES256|RS256 (default EdDSA) --kid <id>

Paths default to package.json "acme.prisma" ({ input, output, migrations }), else
prisma/app, prisma/schema.prisma and prisma/migrations. --cwd <dir> runs elsewhere.`

const options = {
  cwd: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  schema: { type: 'string' },
  migrations: { type: 'string' },
  name: { type: 'string' },
  url: { type: 'string' },
  role: { type: 'string' },
  'password-env': { type: 'string' },
  print: { type: 'boolean' },
  algorithm: { type: 'string' },
  kid: { type: 'string' },
  fragment: { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

type Flags = ReturnType<
  typeof parseArgs<{ options: typeof options; allowPositionals: true }>
>['values']

async function main(argv: string[]): Promise<number> {
  // What follows `--` is Prisma's (acme prisma <command> -- --port 5556), not acme's to parse.
  const separator = argv.indexOf('--')
  const passthrough = separator === -1 ? [] : argv.slice(separator + 1)
  const own = separator === -1 ? argv : argv.slice(0, separator)
  const { values: flags, positionals } = parseArgs({ args: own, options, allowPositionals: true })
  const [group, command] = positionals
  const cwd = flags.cwd ?? process.cwd()
  if (flags.help || !group) {
    console.log(USAGE)
    return flags.help ? 0 : 1
  }
  const paths = resolvePaths(cwd, {
    ...(flags.input ? { input: flags.input } : {}),
    ...(flags.output ? { output: flags.output } : {}),
    ...(flags.schema ? { output: flags.schema } : {}),
    ...(flags.migrations ? { migrations: flags.migrations } : {}),
  })

  if (group === 'init' && !command) {
    const steps = initProject({ cwd, paths })
    for (const line of describeInit(steps, { cwd, paths })) console.log(line)
    return 0
  }
  if (group === 'prisma' && command === 'merge') return merge(cwd, paths, flags)
  if (group === 'prisma' && command) {
    if (!isWrappedPrismaCommand(command)) throw unsupportedPrismaCommand(command)
    const args = wrappedPrismaArgs(command, {
      schema: paths.output,
      check: flags.check === true,
      // Not DATABASE_URL: a URL put on Prisma's command line is visible to every local user.
      url: flags.url,
      passthrough,
    })
    return runPrismaCli(cwd, args)
  }
  if (group === 'migrate' && command === 'diff') {
    if (!flags.name) throw new Error('migrate diff needs --name <name>')
    const manifestPath = manifestPathFor(paths.output)
    const manifest = existsSync(manifestPath)
      ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as MergeManifest)
      : null
    const result = await migrateDiff({
      schema: paths.output,
      migrationsDir: paths.migrations,
      name: flags.name,
      manifest,
    })
    console.log(
      result.migrationDir
        ? `Wrote ${result.migrationDir}/migration.sql`
        : 'No schema change since the last migration: nothing written.',
    )
    return 0
  }
  if (group === 'keys' && command === 'generate') {
    // Only the value on stdout, so `JWT_PRIVATE_KEYS=$(acme keys generate)` works; advice on stderr.
    console.log(keysGenerateCommand({ algorithm: flags.algorithm, kid: flags.kid }))
    console.error(
      'This is a secret: keep it out of version control. To rotate, put a new key first and ' +
        'keep the old ones after it until the tokens they signed have expired.',
    )
    return 0
  }
  if (group === 'db' && command === 'app-role') {
    return appRoleCommand(
      {
        role: flags.role,
        passwordEnv: flags['password-env'],
        url: flags.url,
        print: flags.print === true,
      },
      process.env,
      (line) => console.log(line),
    )
  }
  if (group === 'migrate' && (command === 'apply' || command === 'status')) {
    const url = flags.url ?? process.env.DATABASE_URL
    if (!url) throw new Error(`migrate ${command} needs DATABASE_URL or --url`)
    const target = { url }
    if (command === 'status') {
      const status = await migrateStatus({ migrationsDir: paths.migrations, target })
      console.log(formatStatus(status))
      return status.pending.length + status.changed.length + status.failed.length === 0 ? 0 : 1
    }
    const result = await migrateApply({
      migrationsDir: paths.migrations,
      target,
      log: (line) => console.log(line),
    })
    console.log(
      result.applied.length === 0
        ? 'Database is up to date.'
        : `Applied ${result.applied.length} migration(s).`,
    )
    return 0
  }
  console.error(`Unknown command: ${positionals.join(' ')}\n\n${USAGE}`)
  return 1
}

async function merge(
  cwd: string,
  paths: ReturnType<typeof resolvePaths>,
  flags: Flags,
): Promise<number> {
  const mode = flags.check ? 'check' : flags['dry-run'] ? 'dry-run' : 'write'
  const result = await mergeSchema({
    cwd,
    input: paths.input,
    output: paths.output,
    mode,
    ...(flags.fragment ? { fragments: flags.fragment } : {}),
  })
  if (mode === 'check') {
    if (!result.changed) {
      console.log('The merged schema is up to date.')
      return 0
    }
    console.error('The merged schema is stale: run `acme prisma merge`.\n')
    console.error(result.diff)
    return 1
  }
  if (mode === 'dry-run') {
    console.log(result.changed ? result.diff : 'No change.')
    return 0
  }
  console.log(result.changed ? `Wrote ${paths.output}` : 'The merged schema is up to date.')
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    const code = (error as { code?: unknown }).code
    const message = error instanceof Error ? error.message : String(error)
    console.error(
      typeof code === 'string' && code.startsWith('ACME_') ? `${code}: ${message}` : message,
    )
    process.exitCode = 1
  },
)
