export interface NodeLine {
  /** The major version: "22". */
  readonly major: string
  /** "node22": the alias it is installed under, and its test project's suffix. */
  readonly name: string
  /** The official `node` binary of that line. */
  readonly executable: string
}
export declare const supported: boolean
export declare const nodeLines: ReadonlyArray<NodeLine>
export declare const installedNodeLines: () => ReadonlyArray<NodeLine>
