#!/usr/bin/env node
// An Effect HttpServer under start_server: StarterHttpServer.layer serves on the inherited
// socket, reports readiness once the app is served, and drains on SIGTERM before the app's
// handler goes away (NodeRuntime.runMain closes the layers on SIGTERM and SIGINT).
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as StarterHttpServer from "@starter/worker/StarterHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const generation = Number(process.env.SERVER_STARTER_GENERATION ?? 0)

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", HttpServerResponse.text(`hello from generation ${generation}, pid ${process.pid}\n`)),
  HttpRouter.get("/slow", Effect.as(Effect.sleep("200 millis"), HttpServerResponse.text("slow\n")))
)

const HttpLive = router.pipe(HttpServer.serve(), Layer.provide(StarterHttpServer.layer()))

NodeRuntime.runMain(Layer.launch(HttpLive))
