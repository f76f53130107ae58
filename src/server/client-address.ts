import ipaddr from 'ipaddr.js';

/**
 * The key a client's requests are counted under: its IPv4 address, or the /64 of its IPv6
 * address, since one IPv6 host commonly holds a whole /64 and could otherwise take a fresh
 * bucket for every request.
 */
export function clientKey(ip: string | undefined): string {
  if (ip === undefined || !ipaddr.isValid(ip)) return 'unknown';
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
