#!/usr/bin/env node
// An Express-style app (middleware, routes, JSON, error handling) written with node:http
// alone, served under start_server with @starter/worker.
import http from "node:http"
import { gracefulShutdown, listen, ready } from "@starter/worker"

/** A tiny Express: `use(middleware)`, `get/post(path, handler)`, `(req, res, next)` everywhere. */
const createApp = () => {
  const stack = []
  const app = (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    let i = 0
    const next = (error) => {
      const layer = stack[i++]
      if (layer === undefined)
        return error ? fail(res, 500, error.message) : fail(res, 404, `no route for ${url.pathname}`)
      if (layer.method !== undefined && (layer.method !== req.method || layer.path !== url.pathname)) return next(error)
      try {
        if (error !== undefined) return layer.handle.length === 4 ? layer.handle(error, req, res, next) : next(error)
        if (layer.handle.length === 4) return next()
        const result = layer.handle(req, res, next)
        if (result instanceof Promise) result.catch(next)
      } catch (thrown) {
        next(thrown)
      }
    }
    req.query = Object.fromEntries(url.searchParams)
    next()
  }
  app.use = (handle) => stack.push({ handle })
  app.get = (path, handle) => stack.push({ method: "GET", path, handle })
  app.post = (path, handle) => stack.push({ method: "POST", path, handle })
  return app
}

const send = (res, status, body) => {
  res.statusCode = status
  res.setHeader("content-type", "application/json")
  res.end(`${JSON.stringify(body)}\n`)
}
const fail = (res, status, message) => send(res, status, { error: message })

const readJson = (req) =>
  new Promise((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk) => {
      body += chunk
    })
    req.on("end", () => {
      try {
        resolve(body === "" ? {} : JSON.parse(body))
      } catch {
        reject(Object.assign(new Error("invalid JSON"), { status: 400 }))
      }
    })
    req.on("error", reject)
  })

const generation = process.env.SERVER_STARTER_GENERATION ?? "?"
const app = createApp()
app.use((_req, res, next) => {
  res.setHeader("x-generation", generation)
  next()
})
app.get("/", (_req, res) => send(res, 200, { hello: "world", generation: Number(generation), pid: process.pid }))
app.get("/greet", (req, res) => send(res, 200, { greeting: `hello, ${req.query.name ?? "stranger"}` }))
app.post("/echo", async (req, res) => send(res, 200, { echo: await readJson(req) }))
app.use((error, _req, res, _next) => fail(res, error.status ?? 500, error.message))

const server = http.createServer(app)
gracefulShutdown(server)
// The one TCP or unix socket start_server passed; name it (e.g. "127.0.0.1:8080") if there are several.
await listen(server)
await ready()
