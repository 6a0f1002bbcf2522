/**
 * Python's `random.Random` (CPython 3.11), draw for draw: the MT19937 generator seeded from an int the way
 * `random.seed(n)` does (|n| cut into 32-bit words, `init_by_array`), `random()` (53-bit doubles),
 * `getrandbits(k)`, `_randbelow` (rejection on `k = n.bit_length()` bits), `shuffle` and `choice`. Ports of
 * Python research code that draw from `random` reproduce upstream's output for the same seed with it
 * (Best-of-N's augmentations). Integral float seeds (`random.seed(1e6 + 3)`) hash to the same int.
 */

const N = 624;
const M = 397;

export class PyRandom {
  private readonly mt = new Uint32Array(N);
  private index = N + 1;

  constructor(seed: number | bigint) {
    this.seed(seed);
  }

  /** `random.seed(n)` for an int (or an integral float, which Python hashes to that int). */
  seed(seed: number | bigint): void {
    let n: bigint;
    if (typeof seed === 'bigint') n = seed;
    else {
      if (!Number.isInteger(seed))
        throw new RangeError(`PyRandom: only integral seeds are supported, got ${seed}`);
      n = BigInt(seed);
    }
    if (n < 0n) n = -n;
    const key: number[] = [];
    do {
      key.push(Number(n & 0xffffffffn));
      n >>= 32n;
    } while (n > 0n);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] as number;
      mt[i] = (Math.imul(1812433253, (prev ^ (prev >>> 30)) >>> 0) + i) >>> 0;
    }
    this.index = N;
  }

  private initByArray(key: readonly number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1] as number;
      mt[i] =
        (((mt[i] as number) ^ Math.imul((prev ^ (prev >>> 30)) >>> 0, 1664525)) + (key[j] as number) + j) >>>
        0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1] as number;
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1] as number;
      mt[i] = (((mt[i] as number) ^ Math.imul((prev ^ (prev >>> 30)) >>> 0, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1] as number;
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  /** The next 32-bit output of MT19937 (`genrand_uint32`). */
  uint32(): number {
    const mt = this.mt;
    if (this.index >= N) {
      let kk = 0;
      const mag = (y: number) => (y & 1 ? 0x9908b0df : 0);
      for (; kk < N - M; kk++) {
        const y = ((mt[kk] as number) & 0x80000000) | ((mt[kk + 1] as number) & 0x7fffffff);
        mt[kk] = ((mt[kk + M] as number) ^ (y >>> 1) ^ mag(y)) >>> 0;
      }
      for (; kk < N - 1; kk++) {
        const y = ((mt[kk] as number) & 0x80000000) | ((mt[kk + 1] as number) & 0x7fffffff);
        mt[kk] = ((mt[kk + (M - N)] as number) ^ (y >>> 1) ^ mag(y)) >>> 0;
      }
      const y = ((mt[N - 1] as number) & 0x80000000) | ((mt[0] as number) & 0x7fffffff);
      mt[N - 1] = ((mt[M - 1] as number) ^ (y >>> 1) ^ mag(y)) >>> 0;
      this.index = 0;
    }
    let y = mt[this.index++] as number;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `random.random()`: a 53-bit double in [0, 1). */
  random(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** `random.getrandbits(k)` for 0 < k <= 32. */
  getrandbits(k: number): number {
    if (k <= 0 || k > 32 || !Number.isInteger(k))
      throw new RangeError(`PyRandom.getrandbits: k=${k} not in 1..32`);
    return this.uint32() >>> (32 - k);
  }

  /** `random._randbelow(n)`: uniform in [0, n), by rejection on n.bit_length() bits. */
  randbelow(n: number): number {
    if (n <= 0 || n > 0xffffffff) throw new RangeError(`PyRandom.randbelow: n=${n} out of range`);
    const k = 32 - Math.clz32(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /** `random.shuffle(x)` in place. */
  shuffle<T>(x: T[]): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = x[i] as T;
      x[i] = x[j] as T;
      x[j] = t;
    }
  }

  /** `random.choice(seq)`. */
  choice<T>(seq: readonly T[]): T {
    if (!seq.length) throw new RangeError('PyRandom.choice: empty sequence');
    return seq[this.randbelow(seq.length)] as T;
  }
}
