/** The part of bun:ffi that BunLibc uses (Bun's own types would replace Node's globals). */
declare module "bun:ffi" {
  type FFIType = "i32" | "u32" | "i64" | "u64" | "ptr"
  type Argument = number | bigint | NodeJS.TypedArray | null
  export function cc<
    S extends Record<string, { readonly args: ReadonlyArray<FFIType>; readonly returns: FFIType }>
  >(options: {
    readonly source: string
    readonly symbols: S
  }): { readonly symbols: { readonly [K in keyof S]: (...args: Array<Argument>) => number | bigint } }
}
