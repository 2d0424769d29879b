import Testing
@testable import Tinh

@Suite struct TokenBalanceTests {
    static let lengths = [300, 12, 45, 45, 80, 7, 120, 33, 260, 19, 51, 64]

    @Test(arguments: [1, 2, 3, 4]) func everyExampleGoesToOneRankAndTokensBalance(world: Int) {
        let global = Array(Self.lengths.indices).reversed().map { $0 }
        let split = TokenBalance.split(global, tokens: { Self.lengths[$0] }, worldSize: world)
        #expect(split.count == world)
        #expect(split.flatMap { $0 }.sorted() == global.sorted())
        #expect(split.allSatisfy { !$0.isEmpty })
        // Each rank keeps the batch's order.
        for mine in split { #expect(mine == global.filter(mine.contains)) }
        // LPT: the heaviest rank is within the longest example of the mean (Graham's bound).
        let loads = split.map { $0.reduce(0) { $0 + Self.lengths[$1] } }
        let total = Self.lengths.reduce(0, +)
        #expect(Double(loads.max()!) <= Double(total) / Double(world) + Double(Self.lengths.max()!))
        #expect(TokenBalance.split(global, tokens: { Self.lengths[$0] }, worldSize: world) == split)
    }

    @Test func twoRanksGetEqualTokensWhereTheyCan() {
        // 6 examples: 4 short and 2 long; by count each rank would take 3, by tokens they differ.
        let lengths = [100, 10, 10, 100, 10, 10]
        let split = TokenBalance.split(Array(lengths.indices), tokens: { lengths[$0] }, worldSize: 2)
        #expect(split.map { $0.reduce(0) { $0 + lengths[$1] } } == [120, 120])
    }

    @Test func microBatchesStayWithinTheBudget() {
        let indices = Array(Self.lengths.indices)
        let groups = TokenBalance.microBatches(indices, tokens: { Self.lengths[$0] }, budget: 300)
        #expect(groups.flatMap { $0 } == indices)
        #expect(groups.allSatisfy { $0.reduce(0) { $0 + Self.lengths[$1] } <= 300 })
        #expect(groups.count == 5)
    }
}
