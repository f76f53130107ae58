import './env.ts';
import { main } from './process.ts';

await main({ migrate: false, api: true, worker: false });
