import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DockerDemux } from '../../../../src/adapters/docker/demux.js';
import { aDockerFrame } from '../../../fixtures/builders.js';

/** Feeds `chunks` through a demux and collects its stdout. */
async function demuxed(
  chunks: Buffer[],
  demux = new DockerDemux(),
): Promise<{ stdout: Buffer; demux: DockerDemux }> {
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(chunks, { objectMode: false }), demux, sink);
  return { stdout: Buffer.concat(out), demux };
}

/** Cuts a buffer into pieces of the given sizes (the rest is the last piece). */
function cut(buf: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    pieces.push(buf.subarray(at, at + size));
    at += size;
  }
  pieces.push(buf.subarray(at));
  return pieces.filter((p) => p.length > 0);
}

describe('DockerDemux', () => {
  it('keeps only the last `limit` bytes of stderr, even from one huge frame', async () => {
    const big = `${'x'.repeat(99_990)}last-words`;

    const { demux } = await demuxed([aDockerFrame(2, big)], new DockerDemux(16));

    expect(demux.stderrTail).toBe('xxxxxxlast-words');
  });

  it('passes stdout payloads through in order and keeps stderr out of stdout', async () => {
    const stream = Buffer.concat([
      aDockerFrame(1, 'first '),
      aDockerFrame(2, 'warning: something\n'),
      aDockerFrame(1, 'second '),
      aDockerFrame(1, 'third'),
    ]);

    const { stdout, demux } = await demuxed([stream]);

    expect(stdout.toString()).toBe('first second third');
    expect(demux.stderrTail).toBe('warning: something\n');
  });

  it('reassembles frames split across chunk boundaries, including inside the header', async () => {
    const stream = Buffer.concat([
      aDockerFrame(1, 'hello '),
      aDockerFrame(2, 'err'),
      aDockerFrame(1, 'world'),
    ]);
    const chunks = cut(stream, [3, 4, 5, 1, 2, 7, 9]); // cuts in headers and payloads alike

    const { stdout, demux } = await demuxed(chunks);

    expect(stdout.toString()).toBe('hello world');
    expect(demux.stderrTail).toBe('err');
  });

  it('survives one byte at a time', async () => {
    const stream = Buffer.concat([aDockerFrame(1, 'abc'), aDockerFrame(2, 'E'), aDockerFrame(1, 'def')]);
    const chunks = [...stream].map((b) => Buffer.from([b]));

    const { stdout, demux } = await demuxed(chunks);

    expect(stdout.toString()).toBe('abcdef');
    expect(demux.stderrTail).toBe('E');
  });

  it('carries binary payloads unchanged, including bytes that look like headers', async () => {
    const payload = Buffer.from([2, 0, 0, 0, 0, 0, 0, 4, 0xff, 0x00, 0x80]);
    const big = Buffer.alloc(200_000, 7);
    const stream = Buffer.concat([aDockerFrame(1, payload), aDockerFrame(1, big)]);

    const { stdout } = await demuxed(cut(stream, [5, 65_536, 65_536]));

    expect(stdout.equals(Buffer.concat([payload, big]))).toBe(true);
  });

  it('passes a big frame on as it arrives, as slices of the chunks it came in (no copy)', async () => {
    const big = Buffer.alloc(150_000, 9);
    const chunks = cut(aDockerFrame(1, big), [65_536, 65_536]);
    const pushed: Buffer[] = [];
    const demux = new DockerDemux();
    demux.on('data', (b: Buffer) => pushed.push(b));

    // The first chunk's payload goes on before the rest of the frame has arrived.
    demux.write(chunks[0]);
    await new Promise((r) => setImmediate(r));
    expect(pushed.map((b) => b.length)).toEqual([65_536 - 8]);
    demux.end(Buffer.concat(chunks.slice(1)));
    await new Promise((r) => demux.once('end', r));

    expect(Buffer.concat(pushed).equals(big)).toBe(true);
    expect(pushed[0]?.buffer).toBe(chunks[0]?.buffer);
  });

  it('accepts an empty frame', async () => {
    const stream = Buffer.concat([aDockerFrame(1, ''), aDockerFrame(1, 'x')]);

    const { stdout } = await demuxed([stream]);

    expect(stdout.toString()).toBe('x');
  });

  it('keeps only a bounded tail of stderr, dropping the oldest frames', async () => {
    const frames = Array.from({ length: 10 }, (_, i) => aDockerFrame(2, `line ${i}\n`)); // 7 bytes each

    const { demux } = await demuxed(frames, new DockerDemux(21));

    expect(demux.stderrTail).toBe('line 7\nline 8\nline 9\n');
  });

  it('keeps all of stderr while it is within the limit', async () => {
    const frames = [aDockerFrame(2, 'a\n'), aDockerFrame(2, 'b\n')];

    const { demux } = await demuxed(frames, new DockerDemux(4));

    expect(demux.stderrTail).toBe('a\nb\n');
  });

  it('fails when the stream ends inside a frame', async () => {
    const whole = aDockerFrame(1, 'complete');
    const truncated = aDockerFrame(1, 'cut short').subarray(0, 12);

    const result = demuxed([whole, truncated]);

    await expect(result).rejects.toThrow('docker stream ended inside a frame (12 bytes left)');
  });

  it('fails when the stream ends inside a header', async () => {
    const result = demuxed([aDockerFrame(1, 'ok'), Buffer.from([1, 0, 0])]);

    await expect(result).rejects.toThrow(/ended inside a frame \(3 bytes left\)/);
  });
});
