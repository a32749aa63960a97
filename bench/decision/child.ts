/** `bench:decision`'s child process: `node --expose-gc --import tsx bench/decision/child.ts JSON` prints one DecisionResult as JSON. */
import { measure, type MeasureArgs } from './measure.ts';

console.log(JSON.stringify(await measure(JSON.parse(process.argv[2]!) as MeasureArgs)));
