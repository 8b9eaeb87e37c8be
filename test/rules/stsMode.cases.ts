/**
 * The one table of cases for the sts mode of a policy-string: run through stsMode() (src/rules/stsMode.ts)
 * and through SQL sts_mode() (migrations/definitions/10_rules.sql) by test/rules/stsMode.test.ts.
 */

export interface StsModeCase {
  name: string;
  policyString: string[];
  mode: string | null;
}

export const WHOLE_POLICY_IN_ONE_ELEMENT = 'version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800';

export const STS_MODE_CASES: StsModeCase[] = [
  {
    name: 'one line per element (RFC 8460 4.4)',
    policyString: ['version: STSv1', 'mode: enforce', 'mx: *.example.com', 'max_age: 86400'],
    mode: 'enforce',
  },
  { name: 'the whole policy in one element, line breaks included', policyString: [WHOLE_POLICY_IN_ONE_ELEMENT], mode: 'enforce' },
  { name: 'one element with CRLF line breaks', policyString: ['version: STSv1\r\nmode: testing\r\nmax_age: 86400\r\n'], mode: 'testing' },
  { name: 'a line ending in "\\r"', policyString: ['version: STSv1\r', 'mode: testing\r'], mode: 'testing' },
  { name: 'no space after the colon, capitals', policyString: ['Mode:Testing'], mode: 'testing' },
  { name: 'upper case key and value', policyString: ['MODE: ENFORCE'], mode: 'enforce' },
  { name: 'spaces around the key and the colon', policyString: [' mode : none '], mode: 'none' },
  { name: 'tabs around the colon', policyString: ['mode\t:\tenforce'], mode: 'enforce' },
  { name: 'a value followed by more text', policyString: ['mode: enforce # note'], mode: 'enforce' },
  { name: 'a value RFC 8461 does not know, as written', policyString: ['mode: Bogus'], mode: 'bogus' },
  { name: 'a value with letters that are escapes elsewhere (v, f, t)', policyString: ['mode: vft'], mode: 'vft' },
  { name: 'the first mode line wins', policyString: ['mode: testing', 'mode: enforce'], mode: 'testing' },
  {
    name: '"mode" inside another line is not a mode line',
    policyString: ['mx: mode.example.com', 'xmode: enforce', 'mode: none'],
    mode: 'none',
  },
  { name: 'no mode line', policyString: ['version: STSv1', 'mx: mx.example.com'], mode: null },
  { name: 'no elements', policyString: [], mode: null },
  { name: 'a mode line without a value', policyString: ['mode:', 'mx: mx.example.com'], mode: null },
  { name: 'a mode line of spaces', policyString: ['mode:   '], mode: null },
  { name: 'the value on the next line is not the value', policyString: ['mode:\nenforce'], mode: null },
];
