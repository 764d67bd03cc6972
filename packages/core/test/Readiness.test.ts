import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { parseListenSpecs } from "../src/ListenSpec.js"
import * as Readiness from "../src/Readiness.js"

const { Probe } = Readiness
const parsed = (text: string) => Either.getOrThrow(Readiness.parse(text))
const error = (text: string) => Either.match(Readiness.parse(text), { onLeft: (e) => e, onRight: () => "parsed" })

describe("Readiness.parse", () => {
  it("reads the channels, with none as Perl's interval check", () => {
    expect(parsed("none")).toEqual(Readiness.Readiness.Interval())
    expect(parsed("notify-fd")).toEqual(Readiness.Readiness.NotifyFd())
    expect(parsed("ipc")).toEqual(Readiness.Readiness.Ipc())
    expect(parsed("sd-notify")).toEqual(Readiness.Readiness.SdNotify())
  })

  it("reads probes, bracketed IPv6 included, and prints them back as written", () => {
    for (const text of [
      "tcp:127.0.0.1:9000",
      "tcp:[::1]:9000",
      "tcp:localhost:90{index}",
      "unix:/run/app/{pid}.sock",
      "http://127.0.0.1:9000/health",
      "https://127.0.0.1:9443/",
      "http://unix:/run/app/{pid}.sock:/health"
    ]) {
      expect(Readiness.format(parsed(text))).toBe(text)
    }
    expect(parsed("tcp:[::1]:9000")).toEqual(
      Readiness.Readiness.Probe({ probe: Probe.Tcp({ host: "::1", port: "9000" }) })
    )
  })

  it("rejects what it cannot probe, in one line", () => {
    expect(error("bogus")).toBe(
      "invalid --ready value:bogus (expected none, notify-fd, ipc, sd-notify, tcp:HOST:PORT, unix:PATH or an http:// URL)"
    )
    expect(error("tcp:127.0.0.1:99999")).toBe("--ready=tcp:127.0.0.1:99999: invalid port")
    expect(error("tcp:127.0.0.1")).toBe("--ready=tcp:127.0.0.1: expected tcp:HOST:PORT")
    expect(error("unix:relative.sock")).toBe("--ready=unix:relative.sock: not an absolute path")
    expect(error("tcp:127.0.0.1:9{pid}")).toBe(
      "--ready=tcp:127.0.0.1:9{pid}: a port cannot hold {pid} (pids go past 65535)"
    )
    expect(error("http://127.0.0.1:{pid}/x")).toBe(
      "--ready=http://127.0.0.1:{pid}/x: a port cannot hold {pid} (pids go past 65535)"
    )
    expect(Readiness.format(parsed("http://127.0.0.1:9000/{pid}"))).toBe("http://127.0.0.1:9000/{pid}")
    expect(error("http://[::1/")).toBe("--ready=http://[::1/: not a valid URL")
  })
})

describe("Readiness.expandProbe", () => {
  it("fills in the worker's pid, index and generation", () => {
    const context = { pid: 4242, index: 3, generation: 17 }
    expect(Readiness.expandProbe(Probe.Unix({ path: "/run/{pid}-{index}-{generation}.sock" }), context)).toEqual(
      Probe.Unix({ path: "/run/4242-3-17.sock" })
    )
    expect(Readiness.expandProbe(Probe.Tcp({ host: "127.0.0.1", port: "900{index}" }), context)).toEqual(
      Probe.Tcp({ host: "127.0.0.1", port: "9003" })
    )
  })
})

describe("Readiness.probedListenSocket", () => {
  const listen = Either.getOrThrow(parseListenSpecs(["127.0.0.1:8080", "u5353"], ["/tmp/app.sock"]))
  const held = (text: string) => {
    const readiness = parsed(text)
    return readiness._tag === "Probe" ? Readiness.probedListenSocket(readiness.probe, listen)?.key : "not a probe"
  }

  it("finds probes of a socket start_server holds, which prove nothing", () => {
    expect(held("tcp:127.0.0.1:8080")).toBe("127.0.0.1:8080")
    expect(held("tcp:localhost:8080")).toBe("127.0.0.1:8080")
    expect(held("http://127.0.0.1:8080/health")).toBe("127.0.0.1:8080")
    expect(held("unix:/tmp/app.sock")).toBe("/tmp/app.sock")
    expect(held("http://unix:/tmp/app.sock:/health")).toBe("/tmp/app.sock")
  })

  it("lets per-worker addresses, other ports and UDP ports through", () => {
    expect(held("tcp:127.0.0.1:9000")).toBeUndefined()
    expect(held("tcp:127.0.0.1:5353")).toBeUndefined()
    expect(held("http://127.0.0.1:80{index}/")).toBeUndefined()
    expect(held("unix:/tmp/app-{pid}.sock")).toBeUndefined()
  })
})
