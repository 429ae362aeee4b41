import { parseUsageHeaders } from './index.ts';
import type { GraphUsage, HeaderSource } from './index.ts';

const bucEntry = (callCount: number, regain: number) =>
  ({ type: 'pages', call_count: callCount, total_cputime: 1, total_time: 1, estimated_time_to_regain_access: regain });

const table: Array<[string, Record<string, string>, GraphUsage]> = [
  ['no headers', {}, { maxUsagePercent: undefined }],
  ['X-App-Usage', { 'x-app-usage': '{"call_count":28,"total_time":25,"total_cputime":25}' }, { maxUsagePercent: 28 }],
  ['X-Page-Usage, highest field wins', { 'x-page-usage': '{"call_count":5,"total_time":91,"total_cputime":7}' }, { maxUsagePercent: 91 }],
  [
    'Business Use Case with several ids and entries',
    { 'x-business-use-case-usage': JSON.stringify({ '111': [bucEntry(12, 0), bucEntry(64, 3)], '222': [bucEntry(81, 0)] }) },
    { maxUsagePercent: 81, regainAccessMinutes: 3 },
  ],
  [
    'all three headers: the maximum across them',
    {
      'x-app-usage': '{"call_count":10}',
      'x-page-usage': '{"call_count":97}',
      'x-business-use-case-usage': JSON.stringify({ '1': [bucEntry(40, 0)] }),
    },
    { maxUsagePercent: 97, regainAccessMinutes: 0 },
  ],
  ['malformed JSON is ignored', { 'x-app-usage': '{"call_count":' }, { maxUsagePercent: undefined }],
  ['malformed header beside a good one', { 'x-app-usage': 'nope', 'x-page-usage': '{"total_time":33}' }, { maxUsagePercent: 33 }],
  ['wrong shapes are ignored', { 'x-app-usage': '[1,2]', 'x-business-use-case-usage': '{"1":{"call_count":99}}' }, { maxUsagePercent: undefined }],
  ['non-numeric and negative values are ignored', { 'x-app-usage': '{"call_count":"90","total_time":-5,"total_cputime":4}' }, { maxUsagePercent: 4 }],
  ['empty header', { 'x-app-usage': '' }, { maxUsagePercent: undefined }],
  ['header names are case-insensitive in plain objects', { 'X-App-Usage': '{"call_count":55}' }, { maxUsagePercent: 55 }],
];

describe('parseUsageHeaders', () => {
  it.each(table)('%s', (_label, headers, expected) => {
    expect(parseUsageHeaders(headers)).toEqual(expected);
  });

  it('reads fetch Headers objects', () => {
    const headers: HeaderSource = new Headers({ 'X-App-Usage': '{"call_count":70}' });
    expect(parseUsageHeaders(headers)).toEqual({ maxUsagePercent: 70 });
  });

  it('reads Node-style multi-value headers', () => {
    expect(parseUsageHeaders({ 'x-page-usage': ['{"call_count":12}'] })).toEqual({ maxUsagePercent: 12 });
  });
});
