import './env.ts';
import { main } from './process.ts';

await main({ migrate: false, api: false, worker: true });
