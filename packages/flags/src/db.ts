import type { PrismaClient } from './generated/prisma/client.js'

/**
 * The part of the host's PrismaClient this plugin uses. The host's client is generated from the
 * merged schema, which contains this plugin's fragment; typing the delegates from a client
 * generated with the fragment keeps every query checked.
 */
export type FlagsDb = Pick<
  PrismaClient,
  | 'flag'
  | 'flagEnvironment'
  | 'flagTenantOverride'
  | 'flagSegment'
  | 'flagChange'
  | 'flagSchedule'
  | '$transaction'
>

/** The same delegates inside a transaction. */
export type FlagsTx = Omit<FlagsDb, '$transaction'>
