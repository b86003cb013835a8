import { describe, expect, it } from 'vitest';
import { ComponentGroup, type Component } from '../../../src/core/lifecycle.js';
import { Mutex } from '../../../src/core/mutex.js';

function recorder(name: string, log: string[], failStop = false): Component {
  return {
    name,
    start: async () => void log.push(`start ${name}`),
    stop: async () => {
      log.push(`stop ${name}`);
      if (failStop) throw new Error(`${name} stop failed`);
    },
  };
}

describe('ComponentGroup', () => {
  it('starts in order, stops in reverse, and both are idempotent', async () => {
    const log: string[] = [];
    const g = new ComponentGroup('g', [recorder('a', log), recorder('b', log)]);
    await g.stop();
    await g.start();
    await g.start();
    await g.stop();
    await g.stop();
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('stops every component even when one fails, then reports it', async () => {
    const log: string[] = [];
    const g = new ComponentGroup('g', [recorder('a', log), recorder('b', log, true)]);
    await g.start();
    await expect(g.stop()).rejects.toThrow(/1 component/);
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });
});

describe('Mutex', () => {
  it('runs sections one at a time in call order, past failures', async () => {
    const m = new Mutex();
    const log: string[] = [];
    const section = (name: string, ms: number, fail = false) => () =>
      new Promise<void>((resolve, reject) => {
        log.push(`in ${name}`);
        setTimeout(() => { log.push(`out ${name}`); fail ? reject(new Error(name)) : resolve(); }, ms);
      });
    await Promise.allSettled([m.run(section('a', 20)), m.run(section('b', 1, true)), m.run(section('c', 1))]);
    expect(log).toEqual(['in a', 'out a', 'in b', 'out b', 'in c', 'out c']);
  });
});
