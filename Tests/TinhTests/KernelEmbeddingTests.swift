import Testing
@testable import Tinh

@Suite struct KernelEmbeddingTests {
    @Test func lookupAndBackward() {
        let vocab = 11, dim = 20
        let tokens: [Int32] = [4, 0, 4, 10, 7]   // a repeated token must accumulate
        var d = TestData(seed: 11)
        let table = d.tensor([vocab, dim]), dy = d.normal(tokens.count * dim)
        let out = Tensor(shape: [tokens.count, dim])
        func loss() -> Double {
            Embedding.forward(out: out.data, tokens: tokens, table: table.data, rows: tokens.count, dim: dim)
            return weightedSum(out.data, dy)
        }
        _ = loss()
        for (r, t) in tokens.enumerated() {
            #expect(Array(out.array[(r * dim)..<((r + 1) * dim)]) == Array(table.array[(Int(t) * dim)..<((Int(t) + 1) * dim)]))
        }
        let dTable = Tensor(shape: table.shape)
        Embedding.backward(dtable: dTable.data, dout: dy, tokens: tokens, rows: tokens.count, dim: dim)
        GradCheck().check("embedding dW", param: table.data, analytic: dTable.array, loss: loss)
    }
}
