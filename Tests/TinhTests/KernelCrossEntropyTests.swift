import Foundation
import Testing
@testable import Tinh

@Suite struct KernelCrossEntropyTests {
    let rows = 5, vocab = 37
    let targets: [Int32] = [3, CrossEntropy.ignoreIndex, 36, 0, 17]
    let mask = [true, true, true, false, true]   // row 1 ignored, row 3 masked: 3 rows count

    @Test func forwardMatchesReference() {
        var d = TestData(seed: 9)
        let logits = d.tensor([rows, vocab], std: 4), lse = Tensor(shape: [rows])
        var preds = [Int32](repeating: -1, count: rows)
        let (loss, count) = CrossEntropy.forward(logits: logits.data, targets: targets, mask: mask, lse: lse.data,
                                                 predictions: &preds, rows: rows, vocab: vocab)
        var ref = 0.0
        for r in [0, 2, 4] {
            let row = (0..<vocab).map { Double(logits[r * vocab + $0]) }
            ref += log(row.map { exp($0) }.reduce(0, +)) - row[Int(targets[r])]
            #expect(Int(preds[r]) == row.indices.max { row[$0] < row[$1] }!)
        }
        #expect(count == 3)
        // Per row log Σ e^{x} − x_t: each exp within E relative moves the log-sum-exp by ≤ E (plus the
        // sum's γ_V), and the max shift, the log and the subtraction each round once, relative to
        // magnitudes ≤ max|x| + log V: within 2E + γ_{V+3}·(max|x| + log V) per counted row.
        let largest = (0..<logits.count).map { Double(abs(logits[$0])) }.max()!
        let perRow = 2 * RoundingBound.simdExp + RoundingBound.gamma(vocab + 3) * (largest + log(Double(vocab)))
        #expect(abs(loss - ref) <= 3 * perRow, "loss \(loss) vs \(ref), bound \(3 * perRow)")
    }

    @Test func backwardMatchesFiniteDifferences() {
        var d = TestData(seed: 10)
        let logits = d.tensor([rows, vocab], std: 2), lse = Tensor(shape: [rows])
        let scale: Float = 0.37
        func loss() -> Double {
            Double(scale) * CrossEntropy.forward(logits: logits.data, targets: targets, mask: mask, lse: lse.data,
                                                 rows: rows, vocab: vocab).loss
        }
        _ = loss()
        let dl = Tensor(shape: logits.shape)
        dl.fill(9)   // every entry must be overwritten, masked rows with 0
        CrossEntropy.backward(dlogits: dl.data, logits: logits.data, targets: targets, mask: mask, lse: lse.data,
                              rows: rows, vocab: vocab, scale: scale)
        GradCheck().check("cross-entropy dlogits", param: logits.data, analytic: dl.array, loss: loss)
        // In place (dlogits aliasing logits) gives the same.
        _ = loss()   // refresh lse after the checker's perturbations
        CrossEntropy.backward(dlogits: dl.data, logits: logits.data, targets: targets, mask: mask, lse: lse.data,
                              rows: rows, vocab: vocab, scale: scale)
        let inPlace = logits.copy()
        CrossEntropy.backward(dlogits: inPlace.data, logits: inPlace.data, targets: targets, mask: mask, lse: lse.data,
                              rows: rows, vocab: vocab, scale: scale)
        #expect(inPlace.array == dl.array)
    }
}
