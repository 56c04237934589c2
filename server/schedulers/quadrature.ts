/**
 * Numerical quadrature with QUADPACK's numbers. diffusers' LMS scheduler integrates its Lagrange basis polynomials
 * with `scipy.integrate.quad(f, a, b, epsrel=1e-4)`, which is QUADPACK's QAGS: a 21-point Gauss–Kronrod rule on the
 * whole interval, accepted when its error estimate meets the tolerance, else globally adaptive bisection. The
 * integrands LMS asks for are polynomials of degree ≤ 3 (evaluated in float32), which the first 21-point pass
 * integrates to rounding and accepts, so `quad` returns bit for bit what SciPy returns for them. Should the first
 * pass ever be rejected, `quad` bisects adaptively like QAG (without QAGS's ε-algorithm extrapolation, which only
 * matters for integrable singularities).
 */

/** Kronrod abscissae of the 21-point rule on [-1, 1] (QUADPACK `dqk21` `xgk`), largest first; the last is 0. */
const XGK = [
  0.9956571630258081, 0.9739065285171717, 0.9301574913557082, 0.8650633666889845, 0.7808177265864169,
  0.6794095682990244, 0.5627571346686047, 0.4333953941292472, 0.2943928627014602, 0.14887433898163122, 0,
] as const;
/** Kronrod weights (`wgk`), matching `XGK`. */
const WGK = [
  0.011694638867371874, 0.032558162307964725, 0.054755896574351995, 0.07503967481091996, 0.0931254545836976,
  0.10938715880229764, 0.12349197626206584, 0.13470921731147334, 0.14277593857706009, 0.14773910490133849,
  0.1494455540029169,
] as const;
/** Weights of the embedded 10-point Gauss rule (`wg`), whose abscissae are XGK[1], XGK[3], …, XGK[9]. */
const WG = [
  0.06667134430868814, 0.1494513491505806, 0.21908636251598204, 0.26926671930999635, 0.29552422471475287,
] as const;

const EPMACH = Number.EPSILON;
const UFLOW = 2.2250738585072014e-308;

/** One 21-point Gauss–Kronrod pass on [a, b]: the estimate, its error estimate and |f| integrals, as `dqk21`. */
export interface GaussKronrodResult {
  readonly result: number;
  readonly abserr: number;
  readonly resabs: number;
  readonly resasc: number;
}

/** QUADPACK's `dqk21`, with its summation order, so results match SciPy to the last bit. */
export function gaussKronrod21(f: (x: number) => number, a: number, b: number): GaussKronrodResult {
  const centr = 0.5 * (a + b);
  const hlgth = 0.5 * (b - a);
  const dhlgth = Math.abs(hlgth);
  const fv1 = new Float64Array(10);
  const fv2 = new Float64Array(10);
  let resg = 0;
  const fc = f(centr);
  let resk = WGK[10] * fc;
  let resabs = Math.abs(resk);
  // Gauss nodes (odd positions of XGK, 1-based even) feed both rules.
  for (let j = 1; j <= 5; j++) {
    const jtw = 2 * j - 1;
    const absc = hlgth * XGK[jtw]!;
    const fval1 = f(centr - absc);
    const fval2 = f(centr + absc);
    fv1[jtw] = fval1;
    fv2[jtw] = fval2;
    const fsum = fval1 + fval2;
    resg += WG[j - 1]! * fsum;
    resk += WGK[jtw]! * fsum;
    resabs += WGK[jtw]! * (Math.abs(fval1) + Math.abs(fval2));
  }
  // Kronrod-only nodes.
  for (let j = 1; j <= 5; j++) {
    const jtwm1 = 2 * j - 2;
    const absc = hlgth * XGK[jtwm1]!;
    const fval1 = f(centr - absc);
    const fval2 = f(centr + absc);
    fv1[jtwm1] = fval1;
    fv2[jtwm1] = fval2;
    const fsum = fval1 + fval2;
    resk += WGK[jtwm1]! * fsum;
    resabs += WGK[jtwm1]! * (Math.abs(fval1) + Math.abs(fval2));
  }
  const reskh = resk * 0.5;
  let resasc = WGK[10] * Math.abs(fc - reskh);
  for (let j = 0; j < 10; j++) {
    resasc += WGK[j]! * (Math.abs(fv1[j]! - reskh) + Math.abs(fv2[j]! - reskh));
  }
  const result = resk * hlgth;
  resabs *= dhlgth;
  resasc *= dhlgth;
  let abserr = Math.abs((resk - resg) * hlgth);
  // QUADPACK's pessimistic error scaling, then the round-off floor.
  if (resasc !== 0 && abserr !== 0) abserr = resasc * Math.min(1, (200 * abserr) / resasc) ** 1.5;
  if (resabs > UFLOW / (50 * EPMACH)) abserr = Math.max(EPMACH * 50 * resabs, abserr);
  return { result, abserr, resabs, resasc };
}

/** Options of {@link quad}; the defaults are SciPy's. */
export interface QuadOptions {
  /** Absolute tolerance (default 1.49e-8). */
  readonly epsabs?: number;
  /** Relative tolerance (default 1.49e-8). */
  readonly epsrel?: number;
  /** Most subintervals (default 50). */
  readonly limit?: number;
}

/**
 * ∫ f over [a, b] like `scipy.integrate.quad(f, a, b, epsabs, epsrel, limit)` for finite limits: the first
 * 21-point Gauss–Kronrod pass, returned as is when QAGS would accept it (always, for polynomials), else adaptive
 * bisection of the subinterval with the largest error until the summed error meets the tolerance.
 */
export function quad(f: (x: number) => number, a: number, b: number, options: QuadOptions = {}): number {
  const epsabs = options.epsabs ?? 1.49e-8;
  const epsrel = options.epsrel ?? 1.49e-8;
  const limit = options.limit ?? 50;
  const first = gaussKronrod21(f, a, b);
  const errbnd = Math.max(epsabs, epsrel * Math.abs(first.result));
  // QAGS' acceptance test after the first pass (round-off trouble also ends it there). QAGS names dqk21's
  // `resabs` `defabs` and its `resasc` `resabs`, hence the comparisons below.
  const roundoff = first.abserr <= 100 * EPMACH * first.resabs && first.abserr > errbnd;
  if (
    roundoff ||
    limit === 1 ||
    (first.abserr <= errbnd && first.abserr !== first.resasc) ||
    first.abserr === 0
  ) {
    return first.result;
  }
  const intervals = [{ a, b, result: first.result, abserr: first.abserr }];
  for (let n = 1; n < limit; n++) {
    let worst = 0;
    for (let i = 1; i < intervals.length; i++) {
      if (intervals[i]!.abserr > intervals[worst]!.abserr) worst = i;
    }
    const iv = intervals[worst]!;
    const mid = 0.5 * (iv.a + iv.b);
    const left = gaussKronrod21(f, iv.a, mid);
    const right = gaussKronrod21(f, mid, iv.b);
    intervals.splice(worst, 1, { a: iv.a, b: mid, ...left }, { a: mid, b: iv.b, ...right });
    let area = 0;
    let err = 0;
    for (const piece of intervals) {
      area += piece.result;
      err += piece.abserr;
    }
    if (err <= Math.max(epsabs, epsrel * Math.abs(area))) return area;
  }
  return intervals.reduce((sum, piece) => sum + piece.result, 0);
}
