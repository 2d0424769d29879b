import Foundation
import Testing
@testable import Tinh

/// One frozen base per node: the cached f32 file holds exactly the weights the GGUF loader
/// gives, and ranks that map it share its pages (PSS).
@Suite(.serialized) struct SharedBaseTests {
    @Test func cachedBaseHoldsTheLoadersWeightsAndIsWrittenOnce() throws {
        let (path, hf) = try FormatsLlamaGGUFTests.tinyModel()
        let cache = tempDir()
        let gguf = try GGUFFile(path: path)
        let weights = try SharedBaseCache.weights(gguf, cache: cache)
        #expect(Set(weights.keys) == Set(hf.keys))
        for (name, values) in hf { #expect(weights[name]?.array == values, "\(name) (q/k rows un-permuted like the loader)") }
        let file = SharedBaseCache.path(for: gguf, cache: cache)
        let written = try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date
        _ = try SharedBaseCache.weights(gguf, cache: cache)
        #expect(try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date == written, "reused, not rewritten")
        // Another GGUF gets another file; a file that is not this GGUF's base is refused.
        let (other, _) = try FormatsLlamaGGUFTests.tinyModel(tied: false)
        let otherFile = SharedBaseCache.path(for: try GGUFFile(path: other), cache: cache)
        #expect(otherFile != file)
        try SafeTensorsWriter.write(["x": Tensor(shape: [1])], to: otherFile)
        #expect(throws: TinhError.self) { try SharedBaseCache.weights(try GGUFFile(path: other), cache: cache) }
    }

    func report(ranks: Int, _ policy: String) throws -> BaseMemoryReport {
        let result = try TestProcess.launch(ranks: ranks, ["memory", "--model", "smollm2", "--shared-base", policy, "--json"], timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        return try JSONDecoder().decode(BaseMemoryReport.self, from: try #require(TestProcess.jsonObject(in: result.output)))
    }

    /// The measure: with 2 ranks the base counts once on the node, not twice.
    @Test(.enabled(if: ModelCache.isSmolLM2Cached, "SmolLM2 is not cached (tinh fetch smollm2)"))
    func twoRanksCountTheSharedBaseOnce() throws {
        // (Private copies, --shared-base off, would count it twice; docs/scaling.md has the figures.)
        let one = try report(ranks: 1, "on"), two = try report(ranks: 2, "on")
        let base = one.baseMegabytes
        #expect(one.sharedBase && two.sharedBase)
        #expect(one.basePssMegabytes[0] > 0.95 * base, "1 rank carries the whole mapped base: \(one)")
        for share in two.basePssMegabytes { #expect(abs(share - base / 2) < 0.05 * base, "each of 2 ranks carries half: \(two)") }
        // Every rank's PSS is below twice the base, and both together hold the base once.
        for pss in two.pssMegabytes { #expect(pss < 2 * base) }
        let together = two.pssMegabytes.reduce(0, +), single = one.pssMegabytes[0]
        #expect(together < single + 0.5 * base, "2 ranks: \(together) MiB together vs 1 rank \(single) MiB (base \(base) MiB)")
    }
}
