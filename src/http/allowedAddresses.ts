/** Addresses and CIDR ranges (METRICS_ALLOW) -> a test for a client address. IPv4-mapped IPv6 matches IPv4. */
import { BlockList, isIP } from 'node:net';

export function allowedAddresses(entries: readonly string[] | null): (address: string) => boolean {
  if (entries === null) return () => true;
  const list = new BlockList();
  for (const e of entries) {
    const [addr = '', bits] = e.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}
