/**
 * The log format is a literal union: the `@ts-expect-error` line fails `pnpm check` once the
 * parameter is loosened to a string, and the type must stay exactly `--log-format`'s choices.
 */
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import * as Layer from "effect/Layer"
import { NodeLogger } from "../src/index.js"

describe("NodeLogger.layer", () => {
  it("takes --log-format's choices and nothing else", () => {
    expectTypeOf(NodeLogger.layer).parameter(0).toEqualTypeOf<"text" | "json">()
    // @ts-expect-error: a typo of json
    const typo = NodeLogger.layer("jsn")
    expect(Layer.isLayer(typo)).toBe(true)
  })
})
