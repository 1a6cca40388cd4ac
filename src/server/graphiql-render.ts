/**
 * Worker thread that renders one GraphiQL page (src/server/graphiql.ts starts it). It imports
 * `@graphql-yoga/render-graphiql` here, not in the gateway's main thread, because that module
 * is 9 MB of JavaScript whose source text and exported strings V8 keeps for as long as the
 * module is loaded: about 30 MB of the main thread's heap for the life of the process, whether
 * anyone opens GraphiQL or not. The worker's heap goes away when it exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

const page = new TextEncoder().encode(renderGraphiQL(workerData as GraphiQLOptions));
parentPort?.postMessage(page, [page.buffer]);
