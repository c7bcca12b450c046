import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** Seeded floats in [0, 1) from pure-rand, so every run benchmarks the same input. */
export function rng(seed: number): () => number {
  const g = xoroshiro128plus(seed);
  return () => (g.next() >>> 0) / 4294967296;
}
