import './env.ts';
import { main } from './process.ts';

await main({ migrate: true, api: true, worker: true });
