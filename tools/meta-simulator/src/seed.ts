// A small world for running the simulator by hand: one admin with two Pages and a few customers,
// with fixed ids so docs and local config can refer to them.
import type { MetaPlatform } from './platform.ts';

export interface DemoWorld {
  readonly userId: string;
  readonly pageIds: readonly string[];
  readonly customers: ReadonlyArray<{ pageId: string; psid: string }>;
}

export function seedDemo(platform: MetaPlatform): DemoWorld {
  const pageA = platform.createPage({ id: '100000000000001', name: 'Parley Demo Bakery', category: 'Bakery' });
  const pageB = platform.createPage({ id: '100000000000002', name: 'Parley Demo Bikes', category: 'Bicycle shop' });
  const user = platform.createUser({ id: '10000000000001', name: 'Dana Admin', pages: [pageA.id, pageB.id] });
  const customers = [
    platform.createCustomer(pageA.id, { psid: '2400000000000001', firstName: 'Ana', lastName: 'Silva' }),
    platform.createCustomer(pageA.id, { psid: '2400000000000002', firstName: 'Chen', lastName: 'Wei' }),
    // Phone-number account: the Profile API answers 2018218.
    platform.createCustomer(pageA.id, { psid: '2400000000000003', profile: false }),
    platform.createCustomer(pageB.id, { psid: '2400000000000004', firstName: 'Jonas', lastName: 'Larsen' }),
  ];
  return { userId: user.id, pageIds: [pageA.id, pageB.id], customers: customers.map((c) => ({ pageId: c.pageId, psid: c.psid })) };
}
