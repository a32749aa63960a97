/** Simulated pods on Node: the simulator (src/sim/) with its pods served by node:http and KV events published over ZeroMQ. */
import type { OpenPublisher } from '../../kvevents/transport.ts';
import { startSimulator as start, type Simulator, type SimulatorOptions } from '../../sim/index.ts';
import { listen } from './listen.ts';

/** The KV-event publisher over ZeroMQ, loaded only when a pod publishes (a native module). */
const zmqPublisher: OpenPublisher = async (o) => (await import('./zmq-publisher.ts')).openZmqPublisher(o);

/**
 * @example
 * const sim = await startSimulator({ pods: 2, port: 0, loras: ['english-bot'], timeScale: 0.1 });
 * await fetch(`${sim.pods[0].url}/v1/models`);
 * await sim.close();
 */
export function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  return start(options, listen, zmqPublisher);
}
