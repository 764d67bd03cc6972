#!/usr/bin/env node
// A Fastify 5 app under start_server. Fastify creates its server at construction; once the
// plugins are loaded (app.ready()), @starter/worker serves it on the inherited socket, reports
// readiness and, on SIGTERM, drains it. Only then does app.close() run Fastify's onClose hooks,
// so what the requests use (here a stand-in for a database pool) closes after the last one.
import { gracefulShutdown, listen, ready } from "@starter/worker"
import Fastify from "fastify"

const generation = process.env.SERVER_STARTER_GENERATION ?? "?"

/** Stands in for a database pool: a query after close() fails, as it would on a real one. */
const pool = {
  open: true,
  query: async (value) => {
    if (!pool.open) throw new Error("the pool is closed")
    return value
  },
  close: async () => {
    pool.open = false
  }
}

const app = Fastify()
app.addHook("onRequest", async (_request, reply) => {
  reply.header("x-generation", generation)
})
app.get("/", () => pool.query({ hello: "world", generation: Number(generation), pid: process.pid }))
app.get("/greet", (request) => pool.query({ greeting: `hello, ${request.query.name ?? "stranger"}` }))
app.post("/echo", (request) => pool.query({ echo: request.body ?? {} }))
app.addHook("onClose", async () => {
  await pool.close()
  console.error(`[fastify ${process.pid} gen ${generation}] onClose: pool closed`)
})

await app.ready()
// Not app.listen(): Fastify would bind a port of its own. app.close() runs once drained.
gracefulShutdown(app.server, { onDrained: () => app.close() })
// The one TCP or unix socket start_server passed; name it (e.g. "127.0.0.1:8080") if there are several.
await listen(app.server)
await ready()
