/**
 * The Node room: everything a command, test or benchmark takes from Node —
 * listening, files, the process, the kernel, and the gateway started with
 * Node's parts. Only src/runtime/ touches runtime APIs.
 */
export { listen, listenWithGrpc, type Listening } from './listen.ts';
export { readTextFile, readFileText, writeFileAtomic, watchFile, nodeFiles, stateDirProblem } from './files.ts';
export { readManifestSources, ManifestSourceError, type ManifestSource } from './manifest-files.ts';
export { environment, cpuCount, waitForShutdown } from './process.ts';
export { loadKernelModule } from './kernel.ts';
export { scrapeGetter } from './metrics-getter.ts';
export { startGateway, ConfigError, type RunningGateway, type StartGatewayOptions } from './gateway.ts';
export { startSimulator } from './sim.ts';
