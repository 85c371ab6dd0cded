/**
 * The time every service reads, injected so tests move time instead of sleeping. One shape for
 * every package: a function returning the current `Date`.
 */
export type Clock = () => Date

export const systemClock: Clock = () => new Date()
