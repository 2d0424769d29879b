import Testing
@testable import Tinh

@Suite struct TrainingBatchTests {
    typealias F = DataFixtures

    @Test func targetsAreShiftedAndMaskedAndPadded() throws {
        let a = F.example([10, 11, 12, 13, 14, 15], [false, false, true, true, false, true]) // longer than seq + 1
        let b = F.example([20, 21, 22], [false, true, true])
        let batch = try TrainingBatch(examples: [a, b], indices: [1, 0], seq: 4, padId: 99)
        #expect(batch.batch == 2 && batch.seq == 4)
        #expect(batch.tokens == [20, 21, 22, 99, 10, 11, 12, 13])
        #expect(batch.targets == [21, 22, -1, -1, -1, 12, 13, -1])
        #expect(batch.lossTokens == 4)
    }

    @Test func badIndexAndSeqAreErrorsNotTraps() throws {
        #expect(throws: TinhError.self) { try TrainingBatch(examples: [F.example([1, 2])], indices: [1], seq: 4, padId: 0) }
        #expect(throws: TinhError.self) { try TrainingBatch(examples: [F.example([1, 2])], indices: [0], seq: 0, padId: 0) }
    }

    @Test func packingKeepsEveryTokenOnceInOrderAndFitsRows() throws {
        var examples: [TokenizedExample] = []
        var next: Int32 = 0
        var length = 1
        for _ in 0..<50 {
            length = (length * 7 + 3) % 9 + 1
            let ids = (0..<length).map { _ in next += 1; return next }
            examples.append(F.example(ids, (0..<length).map { $0 % 3 != 1 }))
        }
        let rows = Packing.pack(examples, rowLength: 9)
        #expect(rows.flatMap(\.ids) == examples.flatMap(\.ids))
        #expect(rows.flatMap(\.lossMask) == examples.flatMap(\.lossMask))
        #expect(rows.allSatisfy { $0.count <= 9 && $0.lossMask[0] == false })
        #expect(rows.count < examples.count)
        // Greedy: no row could have taken the next row's first example.
        var start = 0
        for (r, row) in rows.enumerated().dropLast() {
            var taken = 0, k = start
            while taken < row.count { taken += examples[k].count; k += 1 }
            #expect(row.count + examples[k].count > 9, "row \(r)")
            start = k
        }
        #expect(Packing.pack(examples, rowLength: 9) == rows)
    }
}
