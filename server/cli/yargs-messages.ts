/**
 * yargs' validation messages in the CLI's own words, for the shell and for `conclave`
 * itself: "unexpected --frob" rather than "Unknown argument: frob". Imports nothing, so
 * `conclave` can use it without loading more.
 */

/** flagName writes a flag as it is typed: `-v` for one letter, `--name` otherwise. */
function flagName(key: string): string {
  return `${key.length === 1 ? '-' : '--'}${key}`
}

/**
 * explainYargsMessage rewrites one yargs message; `typed` are the words the user typed,
 * to give an unknown flag back its dashes. A message it does not know passes through
 * with a lower-case first letter.
 */
export function explainYargsMessage(message: string, typed: readonly string[]): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message)
  if (unknown !== null) {
    const words = unknown[1]!.split(', ').map((word) => {
      if (typed.includes(word)) return word
      return [`--${word}`, `-${word}`].find((flag) => typed.includes(flag)) ?? word
    })
    return `unexpected ${words.join(', ')}`
  }
  if (message.startsWith('Too many non-option arguments')) return 'too many arguments'
  const noValue = /^Not enough arguments following: (.*)$/.exec(message)
  if (noValue !== null) return `${flagName(noValue[1]!)} needs a value`
  const missing = /^Missing required arguments?: (.*)$/.exec(message)
  if (missing !== null) return `missing ${missing[1]!.split(', ').map(flagName).join(', ')}`
  const meant = /^Did you mean (.*)\?$/.exec(message)
  if (meant !== null) {
    const word = typed.find((w) => !w.startsWith('-'))
    return `unknown command${word === undefined ? '' : ` '${word}'`}. Did you mean '${meant[1]!}'?`
  }
  return message.charAt(0).toLowerCase() + message.slice(1)
}
