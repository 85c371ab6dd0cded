import { PrismaPg } from '@prisma/adapter-pg'

/**
 * The part of a generated PrismaClient that core itself uses. Hosts register their own client
 * type through `AcmeRegister` (see types.ts) so `app.prisma` is fully typed in their code.
 */
export interface PrismaClientLike {
  $connect(): Promise<void>
  $disconnect(): Promise<void>
  $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): PromiseLike<T>
  /** Every generated client has it; core reads `_prisma_migrations` with it at startup. */
  $queryRawUnsafe?<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>
}

export type PrismaClientConstructor = new (options: { adapter: PrismaPg }) => PrismaClientLike

/** Builds the host's generated client on a node-postgres pool: no query engine binary needed. */
export function createPrismaClient(
  PrismaClient: PrismaClientConstructor,
  url: string,
  poolSize: number,
): PrismaClientLike {
  const adapter = new PrismaPg({ connectionString: url, max: poolSize })
  return new PrismaClient({ adapter })
}

export async function pingDatabase(prisma: PrismaClientLike): Promise<void> {
  await prisma.$queryRaw`SELECT 1`
}
