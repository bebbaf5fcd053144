/**
 * CHAT_URL=http://localhost:3000 PLATFORM_ID=market PLATFORM_SECRET=… PORT=4000 node --import tsx examples/host-platform/server.ts
 *
 * Register the platform first: `npm run platform -- add market --name "Campus market"` prints the secret.
 */
import { startHostPlatform } from './host.ts';

const { CHAT_URL = 'http://localhost:3000', PLATFORM_ID = 'market', PLATFORM_SECRET, PORT = '4000' } = process.env;
if (!PLATFORM_SECRET) {
	console.error('Set PLATFORM_SECRET (npm run platform -- add market prints it).');
	process.exit(2);
}
const host = await startHostPlatform({ chatUrl: CHAT_URL, platformId: PLATFORM_ID, secret: PLATFORM_SECRET, port: Number(PORT) });
console.log(`host platform on ${host.url}: open ${host.url}/login?as=bob&next=/posts/123`);
