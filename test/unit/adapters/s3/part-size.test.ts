import { describe, expect, it } from 'vitest';
import { partSizeFor } from '../../../../src/adapters/s3/s3-target.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('partSizeFor', () => {
  it('uses 8 MiB parts when the size is unknown (an asset first backup): up to about 78 GiB', () => {
    expect(partSizeFor(undefined)).toBe(8 * MiB);
  });

  it("uses S3's minimum of 5 MiB when twice the last size fits in 10,000 of them", () => {
    expect(partSizeFor(300 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(24 * GiB)).toBe(5 * MiB);
  });

  it('grows the parts so that twice the last size stays under 10,000 parts', () => {
    const size = 100 * GiB;
    const part = partSizeFor(size);

    expect(part % MiB).toBe(0);
    expect((2 * size) / part).toBeLessThan(10_000);
    expect((2 * size) / (part - MiB)).toBeGreaterThan(9_900);
  });

  it('never goes below a configured part size', () => {
    expect(partSizeFor(300 * MiB, 16)).toBe(16 * MiB);
    expect(partSizeFor(undefined, 16)).toBe(16 * MiB);
  });
});
