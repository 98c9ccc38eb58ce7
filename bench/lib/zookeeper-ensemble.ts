/**
 * An Apache ZooKeeper ensemble on loopback, as Debian's `zookeeper` package installs
 * it, with ZooKeeper's default settings: tickTime 2000, and initLimit 10 / syncLimit 5
 * as Debian's zoo.cfg ships them. Each server gets its own config, data dir, myid and
 * ports. The only setting added is admin.enableServer=false: the admin HTTP server
 * would bind port 8080 in every member; it plays no part in replication.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchEnsemble, Role } from './ensemble.js'
import { ProcessEnsemble, type ProcessMember } from './process-ensemble.js'
import { MemberProcess } from './member-process.js'
import { freePorts } from './ports.js'
import type { BenchSession } from './session.js'
import { connectZooKeeper } from './zookeeper-session.js'

const JAVA = '/usr/bin/java'
/** The classpath Debian's zkServer.sh uses; the jar's manifest names its dependencies. */
const CLASSPATH = '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar'
/** The heap upstream's zkEnv.sh gives a server (ZK_SERVER_HEAP=1000); Debian leaves it to the JVM. */
const HEAP = '-Xmx1000m'

/** zookeeperInstalled tells whether Debian's zookeeper package is present. */
export function zookeeperInstalled(): boolean {
  return (
    existsSync('/usr/share/zookeeper') &&
    existsSync('/usr/share/java/zookeeper.jar') &&
    existsSync(JAVA)
  )
}

/** ZooKeeperOptions: ensemble size, and whether to keep the temp dir. */
export interface ZooKeeperOptions {
  size?: number
  keep?: boolean
}

/** startZooKeeper writes the configs and starts every server (without waiting for a quorum). */
export async function startZooKeeper(options: ZooKeeperOptions = {}): Promise<BenchEnsemble> {
  const size = options.size ?? 3
  const dir = mkdtempSync(join(tmpdir(), 'bench-zookeeper-'))
  const ports = await freePorts(size * 3)
  const servers = Array.from(
    { length: size },
    (_, i) => `server.${i + 1}=127.0.0.1:${ports[3 * i + 1]}:${ports[3 * i + 2]}`,
  )
  const members: ProcessMember[] = []
  for (let i = 0; i < size; i++) {
    const id = i + 1
    const home = join(dir, `zk${id}`)
    const dataDir = join(home, 'data')
    mkdirSync(dataDir, { recursive: true })
    writeFileSync(join(dataDir, 'myid'), `${id}\n`)
    const config = join(home, 'zoo.cfg')
    const lines = [
      'tickTime=2000',
      'initLimit=10',
      'syncLimit=5',
      `dataDir=${dataDir}`,
      `clientPort=${ports[3 * i]}`,
      'admin.enableServer=false',
    ]
    writeFileSync(config, [...lines, ...(size > 1 ? servers : [])].join('\n') + '\n')
    const log = join(home, 'server.log')
    members.push({ id, clientPort: ports[3 * i]!, config, log, process: spawnServer(config, log) })
  }
  return new ZooKeeperEnsemble(dir, members, options.keep ?? false)
}

function spawnServer(config: string, log: string): MemberProcess {
  return MemberProcess.spawn(
    JAVA,
    [HEAP, '-cp', CLASSPATH, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', config],
    log,
  )
}

/** srvr sends ZooKeeper's `srvr` four-letter word (allowed by default) and returns the reply. */
function srvr(port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1', () => socket.end('srvr'))
    let reply = ''
    const timer = setTimeout(() => socket.destroy(new Error('srvr timed out')), timeoutMs)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (reply += chunk))
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(reply)
    })
  })
}

class ZooKeeperEnsemble extends ProcessEnsemble {
  readonly system = 'ZooKeeper'

  protected spawn(member: ProcessMember): MemberProcess {
    return spawnServer(member.config, member.log)
  }

  async role(i: number): Promise<Role> {
    try {
      const reply = await srvr(this.member(i).clientPort, 500)
      const mode = /^Mode: (\w+)/m.exec(reply)?.[1]
      if (mode === 'leader' || mode === 'follower' || mode === 'standalone') return mode
      // "This ZooKeeper instance is not currently serving requests": electing or syncing.
      return reply.length > 0 ? 'looking' : 'down'
    } catch {
      return 'down'
    }
  }

  connect(i: number, sessionTimeoutMs: number): Promise<BenchSession> {
    return connectZooKeeper(this.member(i).clientPort, sessionTimeoutMs)
  }
}
