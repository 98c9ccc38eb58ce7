/**
 * Quorum math, kept apart from the protocol so observers or weighted voters can be
 * added later by changing only this module. Today every member is a voter with
 * weight one and a quorum is a strict majority.
 */
import type { ServerId, Zxid } from '../../protocol/index.js'
import { ZXID_ZERO } from '../../protocol/index.js'
import { ConfigError } from './errors.js'

/** QuorumSpec answers "is this set of servers a quorum?" for one fixed ensemble. */
export class QuorumSpec {
  /** voters are the voting members, sorted by id. */
  readonly voters: readonly ServerId[]
  /** size is the smallest number of voters that forms a quorum. */
  readonly size: number
  private readonly voterSet: ReadonlySet<ServerId>

  constructor(voters: readonly ServerId[]) {
    if (voters.length === 0) throw new ConfigError('members: an ensemble needs at least one voter')
    const set = new Set(voters)
    if (set.size !== voters.length) throw new ConfigError('members: duplicate server id')
    this.voters = [...set].sort((a, b) => a - b)
    this.voterSet = set
    this.size = Math.floor(voters.length / 2) + 1
  }

  /** isVoter tells whether `id` votes in this ensemble. */
  isVoter(id: ServerId): boolean {
    return this.voterSet.has(id)
  }

  /** isQuorum tells whether the distinct voters among `ids` form a quorum (non-voters are ignored). */
  isQuorum(ids: Iterable<ServerId>): boolean {
    const counted = new Set<ServerId>()
    for (const id of ids) if (this.voterSet.has(id)) counted.add(id)
    return counted.size >= this.size
  }

  /**
   * quorumZxid is the highest zxid that a quorum of voters has reached, given each
   * voter's cumulative position (voters missing from `positions` count as zero).
   * For cumulative ACKs this is the highest zxid a quorum holds durably.
   */
  quorumZxid(positions: ReadonlyMap<ServerId, Zxid>): Zxid {
    const values: Zxid[] = []
    for (const id of this.voters) values.push(positions.get(id) ?? ZXID_ZERO)
    values.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))
    return values[this.size - 1] ?? ZXID_ZERO
  }

  /** quorumMinimum is the highest number `n` such that a quorum of voters reports at least `n` (missing voters count as `floor`). */
  quorumMinimum(values: ReadonlyMap<ServerId, number>, floor: number): number {
    const list: number[] = []
    for (const id of this.voters) list.push(values.get(id) ?? floor)
    list.sort((a, b) => b - a)
    return list[this.size - 1] ?? floor
  }
}
