import Testing
@testable import Tinh

@Suite struct BatchSamplerTests {
    @Test func ranksTogetherSeeExactlyTheGlobalBatch() throws {
        let sampler = try BatchSampler(datasetSize: 37, globalBatch: 8, seed: 42)
        for step in [0, 1, 4, 5, 30] {
            let global = sampler.globalIndices(step: step)
            for world in [1, 2, 4, 8] {
                let joined = try (0..<world).flatMap { try sampler.indices(step: step, rank: $0, worldSize: world) }
                #expect(joined == global, "step \(step), world \(world)")
            }
        }
    }

    @Test func eachEpochIsAPermutationAndEpochsDiffer() throws {
        let n = 40
        let sampler = try BatchSampler(datasetSize: n, globalBatch: 8, seed: 7)
        let epoch0 = (0..<5).flatMap { sampler.globalIndices(step: $0) }
        let epoch1 = (5..<10).flatMap { sampler.globalIndices(step: $0) }
        #expect(epoch0.sorted() == Array(0..<n) && epoch1.sorted() == Array(0..<n))
        #expect(epoch0 != epoch1 && epoch0 != Array(0..<n))
        #expect(sampler.epoch(atStep: 4) == 0 && sampler.epoch(atStep: 5) == 1)
    }

    @Test func batchesArePureFunctionsOfSeedAndStep() throws {
        let a = try BatchSampler(datasetSize: 100, globalBatch: 6, seed: 3)
        let b = try BatchSampler(datasetSize: 100, globalBatch: 6, seed: 3)
        // Visit in different orders: no hidden state may leak between calls.
        let forward = (0..<40).map { a.globalIndices(step: $0) }
        let backward = (0..<40).reversed().map { b.globalIndices(step: $0) }.reversed()
        #expect(Array(backward) == forward)
        let other = try BatchSampler(datasetSize: 100, globalBatch: 6, seed: 4)
        #expect(other.globalIndices(step: 0) != forward[0])
    }

    @Test func badShapesAreClearErrors() throws {
        #expect(throws: TinhError.self) { try BatchSampler(datasetSize: 0, globalBatch: 4, seed: 1) }
        let s = try BatchSampler(datasetSize: 10, globalBatch: 6, seed: 1)
        #expect(throws: TinhError.self) { try s.indices(step: 0, rank: 0, worldSize: 4) }
        #expect(throws: TinhError.self) { try s.indices(step: 0, rank: 2, worldSize: 2) }
    }
}
