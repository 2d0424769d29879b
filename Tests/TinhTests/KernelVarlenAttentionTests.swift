import Foundation
import Testing
@testable import Tinh

/// Packed examples (`AttentionSegments`): attention and RoPE on a packed row equal the plain kernels
/// on each example alone.
///
/// Attention is compared within derived rounding bounds, not bit for bit: the packed block runs
/// its GEMMs over other key ranges (from the first row's example start, with masked zeros) than
/// the example alone, and OpenBLAS's summation order depends on the shapes. RoPE is compared bit
/// for bit: each element gets the same table entries and the same two products and sum.
@Suite struct KernelVarlenAttentionTests {
    // seq 80 over blocks of 32: starts inside a block (5), a 1-token example (5..<6), one ending
    // at a block edge (31..<32), one starting on it (32, also 1 token), a block edge again (64) and
    // a last 1-token example (79). Row 1 is one example filling the row.
    static let seq = 80
    static let starts: [[Int]] = [[0, 5, 6, 31, 32, 33, 64, 79], [0]]

    /// The softcapped score's distance from the exact c·tanh(s/c), given the float score's own
    /// error `delta`: the slope of the cap is ≤ 1 (δ), x·(1/c) rounds the argument twice (2u|s|),
    /// and tanh and the product by c add (T + u)|capped|. simdTanh's relative error T: below
    /// |x| = 1/4 a polynomial (a few u); above, 1 − 2/(e^{2x}+1), whose fraction carries exp's E
    /// plus 2u, amplified by (1 − r)/r ≤ 3.1 at r ≥ tanh(1/4) and one more u: T ≤ 3.1(E + 2u) + u.
    static func cappedError(score: Double, capped: Double, delta: Double) -> Double {
        let t = 3.1 * (RoundingBound.simdExp + 2 * RoundingBound.u) + RoundingBound.u
        return delta + 2 * RoundingBound.u * abs(score) + (t + RoundingBound.u) * abs(capped)
    }

    /// Double reference of packed attention (each query sees keys of its own example from
    /// max(start, t − window + 1) to t) and per output entry the bound of
    /// `KernelAttentionTests.referenceWithBound`, with the cap's error added to the scores' δ.
    ///
    /// `flash`: the bound of `FlashAttention`'s online softmax, which rescales the running sum and
    /// output once per key tile. The same float rescale factor multiplies numerator and denominator,
    /// so only its products' roundings count: ≤ T per sum over T tiles, plus the reciprocal's, a
    /// further γ_{2T+1} (T ≤ n/32 + 2 tiles, a window's first tile being unaligned).
    static func reference(q: Tensor, k: Tensor, v: Tensor, s: AttentionShape, segments: AttentionSegments, flash: Bool = false)
        -> (values: [Double], bounds: [Double]) {
        var out = [Double](repeating: 0, count: s.batch * s.seqQ * s.qStride)
        var bounds = out
        let scale = Double(s.scale)
        for b in 0..<s.batch { for h in 0..<s.heads {
            let g = h / s.groupSize
            for i in 0..<s.seqQ {
                let lo = max(segments.tokenStart[b * s.seqQ + i], i - (s.window ?? (i + 1)) + 1)
                let keys = Array(lo...i), n = keys.count
                let qi = b * s.qBatchStride + i * s.qStride + h * s.headDim
                var scores = [Double](), delta = 0.0
                for j in keys {
                    let kj = b * s.kvBatchStride + j * s.kvStride + g * s.headDim
                    let terms = (0..<s.headDim).map { Double(q[qi + $0]) * Double(k[kj + $0]) * scale }
                    var sc = terms.reduce(0, +)
                    var d = RoundingBound.gamma(s.headDim + 1) * terms.map(abs).reduce(0, +)
                    if let c = s.softcap.map(Double.init) {
                        let capped = c * tanh(sc / c)
                        d = cappedError(score: sc, capped: capped, delta: d)
                        sc = capped
                    }
                    scores.append(sc); delta = max(delta, d)
                }
                let relative = exp(2 * delta) - 1 + 2 * RoundingBound.simdExp + RoundingBound.gamma(n + 1) + RoundingBound.gamma(n)
                    + (flash ? RoundingBound.gamma(2 * flashTiles(n) + 1) : 0)
                let m = scores.max()!
                let e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                for (jj, j) in keys.enumerated() {
                    let vj = b * s.kvBatchStride + j * s.kvStride + g * s.headDim
                    for c in 0..<s.headDim {
                        out[qi + c] += e[jj] / z * Double(v[vj + c])
                        bounds[qi + c] += relative * e[jj] / z * abs(Double(v[vj + c]))
                    }
                }
            }
        } }
        return (out, bounds)
    }

    /// Key tiles an online softmax over n keys may visit.
    static func flashTiles(_ n: Int) -> Int { n / FlashAttention.tile + 2 }

    /// Rows `r` of batch row `b` of a [batch, seq, width] tensor, as a [1, r.count, width] tensor.
    static func slice(_ x: Tensor, b: Int, rows r: Range<Int>, seq: Int, width: Int) -> Tensor {
        let t = Tensor(shape: [1, r.count, width])
        t.data.update(from: x.data + (b * seq + r.lowerBound) * width, count: r.count * width)
        return t
    }

    struct Variant: Sendable, CustomStringConvertible {
        var heads, kvHeads: Int
        var window: Int?
        var softcap: Float?
        var description: String { "heads \(heads)/\(kvHeads) window \(window.map(String.init) ?? "-") cap \(softcap.map { "\($0)" } ?? "-")" }
    }

    static let variants: [Variant] = [
        Variant(heads: 4, kvHeads: 4), Variant(heads: 4, kvHeads: 2), Variant(heads: 6, kvHeads: 1),
        Variant(heads: 4, kvHeads: 2, window: 7), Variant(heads: 4, kvHeads: 2, window: 40),
        Variant(heads: 4, kvHeads: 2, softcap: 1.5), Variant(heads: 4, kvHeads: 1, window: 20, softcap: 1.5),
    ]

    static func shape(_ v: Variant, batch: Int, seq: Int, segments: AttentionSegments?) -> AttentionShape {
        AttentionShape(batch: batch, seqQ: seq, heads: v.heads, kvHeads: v.kvHeads, headDim: 8,
                       window: v.window, softcap: v.softcap, segments: segments)
    }

    /// Packed forward within the bound of the per-example reference; each example run alone by the
    /// unsegmented kernel within the same bound, so the two differ by at most twice it.
    @Test(arguments: variants)
    func forwardEqualsEachExampleAlone(_ variant: Variant) {
        var d = TestData(seed: 41)
        let seq = Self.seq, batch = Self.starts.count
        let segments = AttentionSegments(starts: Self.starts, seq: seq)
        let s = Self.shape(variant, batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let out = Tensor(shape: q.shape), probs = Tensor(shape: [s.probsCount])
        probs.fill(7)   // every saved entry must be written
        Attention.forward(out: out.data, probs: probs.data, q: q.data, k: k.data, v: v.data, shape: s)
        let ref = Self.reference(q: q, k: k, v: v, s: s, segments: segments)
        let ratio = KernelAttentionTests.worstRatio(out, ref)
        #expect(ratio <= 1, "packed: error \(ratio)× the bound")

        // Saved probabilities: exactly 0 outside each query's visible keys.
        var leaks = 0
        for b in 0..<batch { for h in 0..<s.heads { for i in 0..<seq {
            let lo = max(segments.tokenStart[b * seq + i], i - (s.window ?? (i + 1)) + 1)
            let row = probs.data + ((b * s.heads + h) * seq + i) * seq
            for j in 0..<seq where !(lo...i).contains(j) && row[j] != 0 { leaks += 1 }
        } } }
        #expect(leaks == 0)

        // Without saving probabilities: the same GEMMs and softmax over the same operands (only the
        // scratch address differs), so the same output.
        let out2 = Tensor(shape: q.shape), scratch = Tensor(shape: [s.scratchCount])
        Attention.forward(out: out2.data, probs: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, saveProbs: false)
        #expect(out2.array == out.array)

        var worstAlone = 0.0, worstPair = 0.0
        for b in 0..<batch { for r in segments.ranges(row: b) {
            let a = Self.shape(variant, batch: 1, seq: r.count, segments: nil)
            let qa = Self.slice(q, b: b, rows: r, seq: seq, width: s.qStride)
            let ka = Self.slice(k, b: b, rows: r, seq: seq, width: s.kvStride), va = Self.slice(v, b: b, rows: r, seq: seq, width: s.kvStride)
            let oa = Tensor(shape: qa.shape), pa = Tensor(shape: [a.scratchCount])
            Attention.forward(out: oa.data, probs: pa.data, q: qa.data, k: ka.data, v: va.data, shape: a, saveProbs: false)
            for i in 0..<(r.count * s.qStride) {
                let g = (b * seq + r.lowerBound) * s.qStride + i
                let bound = ref.bounds[g] + Double(Float.leastNormalMagnitude)
                worstAlone = max(worstAlone, abs(Double(oa[i]) - ref.values[g]) / bound)
                worstPair = max(worstPair, abs(Double(oa[i]) - Double(out[g])) / (2 * bound))
            }
        } }
        #expect(worstAlone <= 1, "alone: error \(worstAlone)× the bound")
        #expect(worstPair <= 1, "packed vs alone: \(worstPair)× twice the bound")
    }

    /// Double reference of the packed backward (dq, dk, dv; dout `dy`) and per entry a first-order
    /// bound of any float32 evaluation's distance from it, whatever the summation order, built
    /// from the forward's: each probability within ρᵢ = e^{2δᵢ} − 1 + 2E + γ_{n+1} relative (δᵢ: the
    /// row's worst score error, cap included); dPᵢⱼ = dOᵢ·vⱼ within εᵢⱼ = γ_d·Σ|dO||v|;
    /// Dᵢ = Σⱼ PᵢⱼdPᵢⱼ within ηᵢ = Σⱼ (ρᵢPᵢⱼ|dPᵢⱼ| + Pᵢⱼεᵢⱼ) + γₙ·ΣⱼPᵢⱼ|dPᵢⱼ|; dSᵢⱼ = Pᵢⱼ(dPᵢⱼ − Dᵢ)
    /// within ρᵢPᵢⱼ|dPᵢⱼ − Dᵢ| + Pᵢⱼ(εᵢⱼ + ηᵢ) + γ₂Pᵢⱼ(|dPᵢⱼ| + |Dᵢ|). With a cap the slope
    /// σ = 1 − t², t = y/c, is within 2|t|·Y/c + 6u (Y: the capped score's error, |t| ≤ 1) and the
    /// product adds u. Then dQ, dK (scale·Σ dS·k, scale·Σ dS·q) and dV (Σ P·dO) of N terms carry the
    /// propagated errors plus γ_{N+1} (γ_N for dV) of their absolute sums; exact zeros of masked
    /// entries round nothing.
    ///
    /// `flash`: `FlashAttention.backward` recomputes P = exp(y − lse) from the forward's saved
    /// lse = m + log l. The running sum l is within E (its terms' exp) + 2u·T (T rescale factors,
    /// expf within an ulp) + γ_{n+2T} (its sums and rescales) relative; log adds 2u·|log l|, the sum
    /// u·|lse|, the difference u·|y − lse|: Λ in the exponent, so ρ = e^{2δ+Λ} − 1 + 2E + γ_{n+1}.
    /// D = dO·O (not Σ P·dP) is within Σ|dO꜀|·B꜀ + γ_d·Σ|dO꜀||O꜀|, B꜀ the forward output's flash
    /// bound; dS = P·(dP − D)·scale rounds three times (γ₃), its GEMMs take no alpha.
    static func backwardReference(q: Tensor, k: Tensor, v: Tensor, dy: [Float], s: AttentionShape, segments: AttentionSegments,
                                  flash: Bool = false)
        -> (dq: [Double], dk: [Double], dv: [Double], dqBound: [Double], dkBound: [Double], dvBound: [Double]) {
        let u = RoundingBound.u, scale = Double(s.scale), d = s.headDim
        var dq = [Double](repeating: 0, count: q.count), dqB = dq
        var dk = [Double](repeating: 0, count: k.count), dv = dk, dkB = dk, dvB = dk
        // Per KV entry: absolute sums and propagated errors, and term counts for the final γ.
        var dkAbs = dk, dvAbs = dk, count = [Int](repeating: 0, count: k.count)
        for b in 0..<s.batch { for h in 0..<s.heads {
            let g = h / s.groupSize
            for i in 0..<s.seqQ {
                let lo = max(segments.tokenStart[b * s.seqQ + i], i - (s.window ?? (i + 1)) + 1)
                let keys = Array(lo...i), n = keys.count
                let qi = b * s.qBatchStride + i * s.qStride + h * s.headDim
                func kv(_ j: Int) -> Int { b * s.kvBatchStride + j * s.kvStride + g * s.headDim }
                var scores = [Double](), slope = [Double](), slopeErr = [Double](), delta = 0.0
                for j in keys {
                    let terms = (0..<d).map { Double(q[qi + $0]) * Double(k[kv(j) + $0]) * scale }
                    var sc = terms.reduce(0, +)
                    var e = RoundingBound.gamma(d + 1) * terms.map(abs).reduce(0, +)
                    if let c = s.softcap.map(Double.init) {
                        let y = c * tanh(sc / c), t = y / c
                        e = cappedError(score: sc, capped: y, delta: e)
                        slope.append(1 - t * t); slopeErr.append(2 * abs(t) * e / c + 6 * u)
                        sc = y
                    } else { slope.append(1); slopeErr.append(0) }
                    scores.append(sc); delta = max(delta, e)
                }
                var rho = exp(2 * delta) - 1 + 2 * RoundingBound.simdExp + RoundingBound.gamma(n + 1)
                let m = scores.max()!
                let ex = scores.map { exp($0 - m) }, z = ex.reduce(0, +)
                let p = ex.map { $0 / z }
                let tiles = flashTiles(n)
                if flash {
                    let lse = m + log(z), worst = scores.map { abs($0 - lse) }.max()!
                    let lambda = RoundingBound.simdExp + 2 * u * Double(tiles) + RoundingBound.gamma(n + 2 * tiles)
                        + u * (2 * abs(log(z)) + abs(lse) + worst)
                    rho = exp(2 * delta + lambda) - 1 + 2 * RoundingBound.simdExp + RoundingBound.gamma(n + 1)
                }
                let dO = (0..<d).map { Double(dy[qi + $0]) }
                let dP = keys.map { j in (0..<d).map { dO[$0] * Double(v[kv(j) + $0]) }.reduce(0, +) }
                let eps = keys.map { j in RoundingBound.gamma(d) * (0..<d).map { abs(dO[$0] * Double(v[kv(j) + $0])) }.reduce(0, +) }
                let D = zip(p, dP).map(*).reduce(0, +)
                let absPdP = zip(p, dP).map { $0 * abs($1) }.reduce(0, +)
                var eta = (0..<n).map { rho * p[$0] * abs(dP[$0]) + p[$0] * eps[$0] }.reduce(0, +) + RoundingBound.gamma(n) * absPdP
                if flash {
                    let relF = exp(2 * delta) - 1 + 2 * RoundingBound.simdExp + RoundingBound.gamma(n + 1) + RoundingBound.gamma(n)
                        + RoundingBound.gamma(2 * tiles + 1)
                    eta = (0..<d).map { c -> Double in
                        let o = keys.indices.map { p[$0] * Double(v[kv(keys[$0]) + c]) }.reduce(0, +)
                        let bound = relF * keys.indices.map { p[$0] * abs(Double(v[kv(keys[$0]) + c])) }.reduce(0, +)
                        return abs(dO[c]) * (bound + RoundingBound.gamma(d) * abs(o))
                    }.reduce(0, +)
                }
                let dSRounding = RoundingBound.gamma(flash ? 3 : 2)
                for (jj, j) in keys.enumerated() {
                    let dS = p[jj] * (dP[jj] - D)
                    var dSErr = rho * p[jj] * abs(dP[jj] - D) + p[jj] * (eps[jj] + eta) + dSRounding * p[jj] * (abs(dP[jj]) + abs(D))
                    if s.softcap != nil { dSErr = dSErr * slope[jj] + abs(dS) * slopeErr[jj] + u * abs(dS) * slope[jj] }
                    let dZ = dS * slope[jj]
                    for c in 0..<d {
                        let kc = Double(k[kv(j) + c]), qc = Double(q[qi + c])
                        dq[qi + c] += scale * dZ * kc
                        dqB[qi + c] += scale * (dSErr * abs(kc) + RoundingBound.gamma(n + 1) * abs(dZ * kc))
                        dk[kv(j) + c] += scale * dZ * qc
                        dkB[kv(j) + c] += scale * dSErr * abs(qc)
                        dkAbs[kv(j) + c] += scale * abs(dZ * qc)
                        dv[kv(j) + c] += p[jj] * dO[c]
                        dvB[kv(j) + c] += rho * p[jj] * abs(dO[c])
                        dvAbs[kv(j) + c] += p[jj] * abs(dO[c])
                        count[kv(j) + c] += 1
                    }
                }
            }
        } }
        for e in dk.indices {
            dkB[e] += RoundingBound.gamma(count[e] + 1) * dkAbs[e]
            dvB[e] += RoundingBound.gamma(count[e]) * dvAbs[e]
        }
        return (dq, dk, dv, dqB, dkB, dvB)
    }

    /// Packed backward within the bound of the per-example reference (`backwardReference`); each
    /// example's backward run alone by the unsegmented kernel within the same bound, so the two
    /// differ by at most twice it.
    @Test(arguments: variants)
    func backwardEqualsEachExampleAlone(_ variant: Variant) {
        var d = TestData(seed: 45)
        let seq = Self.seq, batch = Self.starts.count
        let segments = AttentionSegments(starts: Self.starts, seq: seq)
        let s = Self.shape(variant, batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let dy = d.normal(q.count)
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
        let scratch = Tensor(shape: [s.backwardScratchCount])
        Attention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, q: q.data, k: k.data,
                           v: v.data, shape: s)
        let ref = Self.backwardReference(q: q, k: k, v: v, dy: dy, s: s, segments: segments)
        func ratio(_ x: Float, _ value: Double, _ bound: Double) -> Double {
            abs(Double(x) - value) / (bound + Double(Float.leastNormalMagnitude))
        }
        var worst = (packed: 0.0, alone: 0.0, pair: 0.0)
        for i in 0..<q.count { worst.packed = max(worst.packed, ratio(dq[i], ref.dq[i], ref.dqBound[i])) }
        for i in 0..<k.count {
            worst.packed = max(worst.packed, ratio(dk[i], ref.dk[i], ref.dkBound[i]), ratio(dv[i], ref.dv[i], ref.dvBound[i]))
        }
        for b in 0..<batch { for r in segments.ranges(row: b) {
            let a = Self.shape(variant, batch: 1, seq: r.count, segments: nil)
            let qa = Self.slice(q, b: b, rows: r, seq: seq, width: s.qStride)
            let ka = Self.slice(k, b: b, rows: r, seq: seq, width: s.kvStride), va = Self.slice(v, b: b, rows: r, seq: seq, width: s.kvStride)
            let dya = Array(dy[((b * seq + r.lowerBound) * s.qStride)..<((b * seq + r.upperBound) * s.qStride)])
            let dqa = Tensor(shape: qa.shape), dka = Tensor(shape: ka.shape), dva = Tensor(shape: va.shape)
            let sa = Tensor(shape: [a.backwardScratchCount])
            Attention.backward(dq: dqa.data, dk: dka.data, dv: dva.data, scratch: sa.data, dout: dya, q: qa.data, k: ka.data,
                               v: va.data, shape: a)
            let qBase = (b * seq + r.lowerBound) * s.qStride, kBase = (b * seq + r.lowerBound) * s.kvStride
            for i in 0..<dqa.count {
                worst.alone = max(worst.alone, ratio(dqa[i], ref.dq[qBase + i], ref.dqBound[qBase + i]))
                worst.pair = max(worst.pair, ratio(dqa[i], Double(dq[qBase + i]), 2 * ref.dqBound[qBase + i]))
            }
            for i in 0..<dka.count {
                let e = kBase + i
                worst.alone = max(worst.alone, ratio(dka[i], ref.dk[e], ref.dkBound[e]), ratio(dva[i], ref.dv[e], ref.dvBound[e]))
                worst.pair = max(worst.pair, ratio(dka[i], Double(dk[e]), 2 * ref.dkBound[e]), ratio(dva[i], Double(dv[e]), 2 * ref.dvBound[e]))
            }
        } }
        #expect(worst.packed <= 1, "packed: error \(worst.packed)× the bound")
        #expect(worst.alone <= 1, "alone: error \(worst.alone)× the bound")
        #expect(worst.pair <= 1, "packed vs alone: \(worst.pair)× twice the bound")
    }

    /// The segmented backward against central differences of the packed forward (GQA, window, cap;
    /// boundaries inside a block, on its edge and 1-token examples).
    @Test(arguments: [Variant(heads: 2, kvHeads: 2), Variant(heads: 4, kvHeads: 2, window: 6),
                      Variant(heads: 4, kvHeads: 1, softcap: 1.5), Variant(heads: 2, kvHeads: 1, window: 34, softcap: 2)])
    func backwardMatchesFiniteDifferences(_ variant: Variant) {
        var d = TestData(seed: 42)
        let batch = 2, seq = 40
        let segments = AttentionSegments(starts: [[0, 3, 4, 31, 32, 33], [0, 20]], seq: seq)
        let s = Self.shape(variant, batch: batch, seq: seq, segments: segments)
        let q = d.tensor([batch, seq, s.qStride]), k = d.tensor([batch, seq, s.kvStride]), v = d.tensor([batch, seq, s.kvStride])
        let dy = d.normal(q.count)
        let out = Tensor(shape: q.shape), scratch = Tensor(shape: [s.backwardScratchCount])
        func loss() -> Double {
            Attention.forward(out: out.data, probs: scratch.data, q: q.data, k: k.data, v: v.data, shape: s, saveProbs: false)
            return weightedSum(out.data, dy)
        }
        _ = loss()
        let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: v.shape)
        dq.fill(7); dk.fill(7); dv.fill(7)   // backward must overwrite every entry
        Attention.backward(dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dy, q: q.data, k: k.data,
                           v: v.data, shape: s)
        GradCheck().check("segmented dq", param: q.data, analytic: dq.array, loss: loss)
        GradCheck().check("segmented dk", param: k.data, analytic: dk.array, loss: loss)
        GradCheck().check("segmented dv", param: v.data, analytic: dv.array, loss: loss)
    }

    // RoPE: headDim 40 (half 20: one SIMD block and a scalar tail).
    static let ropeStarts: [[Int]] = [[0, 5, 6, 31, 32, 33, 64, 69], [0]]

    /// Positions restart at each example: the packed rotation equals each example rotated alone
    /// from position 0, bit for bit, forward and backward (the same table rows and operations).
    @Test func ropeRestartsPerExample() {
        let batch = 2, seq = 70, heads = 3, headDim = 40, width = heads * headDim
        let rope = RoPE(headDim: headDim, maxPositions: seq, theta: 10000)
        let segments = AttentionSegments(starts: Self.ropeStarts, seq: seq)
        var d = TestData(seed: 43)
        let x = d.tensor([batch, seq, width])
        for backward in [false, true] {
            let y = Tensor(shape: x.shape)
            y.data.update(from: x.data, count: x.count)
            if backward { rope.backward(y.data, batch: batch, seq: seq, heads: heads, segments: segments) }
            else { rope.forward(y.data, batch: batch, seq: seq, heads: heads, segments: segments) }
            for b in 0..<batch { for r in segments.ranges(row: b) {
                let a = Self.slice(x, b: b, rows: r, seq: seq, width: width)
                if backward { rope.backward(a.data, batch: 1, seq: r.count, heads: heads) }
                else { rope.forward(a.data, batch: 1, seq: r.count, heads: heads) }
                #expect(a.array == Self.slice(y, b: b, rows: r, seq: seq, width: width).array, "row \(b) example \(r)")
            } }
        }
    }

    /// The segmented backward is the transpose of the segmented forward (central differences).
    @Test func ropeSegmentedBackwardMatchesFiniteDifferences() {
        let batch = 2, seq = 9, heads = 2, headDim = 40
        let rope = RoPE(headDim: headDim, maxPositions: seq, theta: 500)
        let segments = AttentionSegments(starts: [[0, 1, 4], [0, 8]], seq: seq)
        var d = TestData(seed: 44)
        let x = d.tensor([batch, seq, heads * headDim]), dy = d.normal(x.count)
        let y = Tensor(shape: x.shape)
        func loss() -> Double {
            y.data.update(from: x.data, count: x.count)
            rope.forward(y.data, batch: batch, seq: seq, heads: heads, segments: segments)
            return weightedSum(y.data, dy)
        }
        let dx = Tensor(shape: x.shape, values: dy)
        rope.backward(dx.data, batch: batch, seq: seq, heads: heads, segments: segments)
        GradCheck().check("segmented rope dx", param: x.data, analytic: dx.array, loss: loss)
    }

    @Test func segmentsTable() {
        let s = AttentionSegments(starts: [[0, 2, 3], [0]], seq: 5)
        #expect(s.tokenStart == [0, 0, 2, 3, 3, 0, 0, 0, 0, 0])
        #expect(s.ranges(row: 0) == [0..<2, 2..<3, 3..<5])
        #expect(s.ranges(row: 1) == [0..<5])
    }
}
