import type { Prisma } from './generated/prisma/client.js'

/**
 * The part of the host's PrismaClient this plugin uses inside a tenant transaction. The host's
 * client is generated from the merged schema, which contains this plugin's fragment; typing the
 * delegates from a client generated from the fragment keeps every query checked.
 */
export type TenancyTx = Pick<
  Prisma.TransactionClient,
  'tenant' | 'membership' | 'invitation' | 'user' | 'apiKey' | '$executeRawUnsafe'
>
