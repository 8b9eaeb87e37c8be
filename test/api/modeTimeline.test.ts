/** modeTimeline: the MTA-STS modes reporters saw, day by day, folded into periods. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modeTimeline, NO_MODE } from '../../src/api/modeTimeline.js';

describe('modeTimeline', () => {
  it('folds consecutive days with the same modes into one period, reporters merged', () => {
    assert.deepEqual(
      modeTimeline([
        { day: '2025-01-01', organization_name: 'B', mode: 'testing' },
        { day: '2025-01-01', organization_name: 'A', mode: 'testing' },
        { day: '2025-01-02', organization_name: 'A', mode: 'testing' },
        // The switch to enforce: one reporter still holds the cached testing policy (RFC 8461 5.1 max_age).
        { day: '2025-01-03', organization_name: 'A', mode: 'enforce' },
        { day: '2025-01-03', organization_name: 'B', mode: 'testing' },
        { day: '2025-01-05', organization_name: 'B', mode: 'enforce' },
        { day: '2025-01-04', organization_name: 'A', mode: 'enforce' },
      ]),
      [
        { modes: ['testing'], first_day: '2025-01-01', last_day: '2025-01-02', reporters: ['A', 'B'] },
        { modes: ['enforce', 'testing'], first_day: '2025-01-03', last_day: '2025-01-03', reporters: ['A', 'B'] },
        { modes: ['enforce'], first_day: '2025-01-04', last_day: '2025-01-05', reporters: ['A', 'B'] },
      ],
    );
  });

  it('names a policy without a mode line, and gives nothing for no observations', () => {
    assert.deepEqual(modeTimeline([{ day: '2025-01-01', organization_name: 'A', mode: null }]), [
      { modes: [NO_MODE], first_day: '2025-01-01', last_day: '2025-01-01', reporters: ['A'] },
    ]);
    assert.deepEqual(modeTimeline([]), []);
  });
});
