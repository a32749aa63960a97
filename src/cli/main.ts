/**
 * `infergate <command> [flags]`: each command is a module in ./commands/
 * exporting `run(args): Promise<number>` (the exit code).
 */
const commands: Record<string, string> = {
  gateway: 'serve the data plane (and the admin API)',
  agent: 'scrape model servers and stream endpoint snapshots',
  sim: 'run simulated vLLM pods',
  demo: 'gateway + simulated pools for the two seed use cases (npm start)',
  apply: 'push Kubernetes manifests (-f FILE, DIR or -) to a running gateway',
  get: 'show a running gateway\'s objects (inferencepools, httproutes, inferenceobjectives, …) or its routes, pools, models, endpoints',
  describe: 'show one object of a running gateway with its conditions and events',
  key: 'make a client API key (for --api-keys)',
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    printUsage();
    return name ? 0 : 2;
  }
  if (!(name in commands)) {
    console.error(`infergate: unknown command "${name}"\n`);
    printUsage();
    return 2;
  }
  let mod: { run(args: string[]): Promise<number> };
  try {
    mod = await import(`./commands/${name}.ts`);
  } catch (err) {
    console.error(`infergate: command "${name}" is not available in this build: ${(err as Error).message}`);
    return 2;
  }
  return mod.run(args);
}

function printUsage(): void {
  const lines = Object.entries(commands).map(([n, d]) => `  ${n.padEnd(9)} ${d}`);
  console.error(`usage: infergate <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\nRun "infergate <command> --help" for its flags.`);
}
