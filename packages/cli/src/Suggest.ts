/** "Did you mean": the known name closest to a mistyped one, if any is close enough. */

/** Levenshtein distance, with a transposition counting as one edit (`prot` → `port`). */
export const distance = (a: string, b: string): number => {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0))
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** The closest of `known` within a third of the typed length (at least one edit), or undefined. */
export const closest = (typed: string, known: ReadonlyArray<string>): string | undefined => {
  const name = typed.toLowerCase()
  const limit = Math.max(1, Math.floor(name.length / 3))
  let best: { readonly name: string; readonly d: number } | undefined
  for (const candidate of known) {
    const d = distance(name, candidate)
    if (d <= limit && (best === undefined || d < best.d)) best = { name: candidate, d }
  }
  return best?.name
}
