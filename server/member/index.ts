/** server/member: a member's pure logic above the ZAB core (leader duties, forwarded payloads). */
export * from './forward-payload.js'
export * from './leader-duties.js'
