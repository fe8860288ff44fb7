// How DOCKER_HOST and the docker CLI's TLS variables become dockerode options.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dockerOptions } from '../../../../src/adapters/docker/docker-runtime.js';
import { AppError } from '../../../../src/errors.js';

let certs: string;

beforeEach(() => {
  certs = mkdtempSync(join(tmpdir(), 'drbot-certs-'));
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(certs, f), `${f} contents`);
});

afterEach(() => {
  rmSync(certs, { recursive: true, force: true });
});

describe('dockerOptions', () => {
  it('takes a unix socket as a socket path', () => {
    expect(dockerOptions('unix:///var/run/docker.sock', {})).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerOptions('/run/docker.sock', { DOCKER_TLS_VERIFY: '1' })).toEqual({
      socketPath: '/run/docker.sock',
    });
  });

  it('speaks plain HTTP to tcp:// on 2375 when no TLS is asked for', () => {
    expect(dockerOptions('tcp://10.0.0.5:2375', {})).toEqual({
      host: '10.0.0.5',
      port: 2375,
      protocol: 'http',
    });
  });

  it('uses TLS with the CA, certificate and key from DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set', () => {
    const options = dockerOptions('tcp://docker.internal:2376', {
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: certs,
    });

    expect(options).toMatchObject({ host: 'docker.internal', port: 2376, protocol: 'https' });
    expect(String(options.ca)).toBe('ca.pem contents');
    expect(String(options.cert)).toBe('cert.pem contents');
    expect(String(options.key)).toBe('key.pem contents');
  });

  it('uses TLS on port 2375 too when DOCKER_TLS_VERIFY is set, as the docker CLI does', () => {
    const options = dockerOptions('tcp://10.0.0.5:2375', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });

    expect(options).toMatchObject({ port: 2375, protocol: 'https' });
  });

  it('uses TLS for port 2376 and for https:// addresses, defaulting to port 2376', () => {
    expect(dockerOptions('tcp://10.0.0.5:2376', { DOCKER_CERT_PATH: certs }).protocol).toBe('https');
    expect(dockerOptions('https://10.0.0.5', { DOCKER_CERT_PATH: certs })).toMatchObject({
      port: 2376,
      protocol: 'https',
    });
  });

  it('reads the certificates from ~/.docker when DOCKER_CERT_PATH is not set', () => {
    const home = mkdtempSync(join(tmpdir(), 'drbot-home-'));
    mkdirSync(join(home, '.docker'));
    writeFileSync(join(home, '.docker', 'ca.pem'), 'home ca');
    const previous = process.env.HOME;
    process.env.HOME = home;
    try {
      const options = dockerOptions('tcp://10.0.0.5:2376', { DOCKER_TLS_VERIFY: '1' });

      expect(String(options.ca)).toBe('home ca');
      expect(options.cert).toBeUndefined();
    } finally {
      process.env.HOME = previous;
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('fails naming the file when DOCKER_CERT_PATH lacks one of them', () => {
    rmSync(join(certs, 'key.pem'));

    let error: unknown;
    try {
      dockerOptions('tcp://10.0.0.5:2376', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('DOCKER_UNREACHABLE');
    expect((error as AppError).message).toContain(`${join(certs, 'key.pem')} cannot be read`);
  });
});
