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

    /// A cache of this test's own, so no other process (another test run) maps the same base file
    /// and shares its pages.
    static let privateCache = tempDir().path

    func report(ranks: Int, _ policy: String) throws -> BaseMemoryReport {
        let model = ModelCache.smolLM2Path(in: ModelCache.directory)
        let result = try TestProcess.launch(ranks: ranks, ["memory", "--model", model, "--shared-base", policy, "--json"],
                                            environment: ["TINH_CACHE": Self.privateCache], timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        return try JSONDecoder().decode(BaseMemoryReport.self, from: try #require(TestProcess.jsonObject(in: result.output)))
    }

    /// The measure: with 2 ranks the base counts once on the node, not twice. The kernel
    /// may reclaim clean pages of the mapped file at any moment (this machine runs DAMON), so the
    /// check is on PSS / RSS of the mapping, read together: 1 for one rank, ½ when both ranks
    /// share every resident page — not on how much of the file happens to be resident.
    @Test(.enabled(if: ModelCache.isSmolLM2Cached, "SmolLM2 is not cached (tinh fetch smollm2)"))
    func twoRanksCountTheSharedBaseOnce() throws {
        // (Private copies, --shared-base off, would count it twice; docs/scaling.md has the figures.)
        let one = try report(ranks: 1, "on"), two = try report(ranks: 2, "on")
        let base = one.baseMegabytes
        #expect(one.sharedBase && two.sharedBase)
        #expect(one.baseRssMegabytes[0] > 0.1 * base, "the base is mapped and read: \(one)")
        #expect(abs(one.basePssMegabytes[0] / one.baseRssMegabytes[0] - 1) < 0.02, "1 rank carries its resident base pages alone: \(one)")
        for r in 0..<2 {
            #expect(two.baseRssMegabytes[r] > 0.1 * base, "rank \(r) maps and reads the base: \(two)")
            #expect(abs(two.basePssMegabytes[r] / two.baseRssMegabytes[r] - 0.5) < 0.05, "rank \(r) shares its base pages with the other: \(two)")
        }
        // Every rank's PSS is below twice the base (the bound) and below the base itself.
        for pss in two.pssMegabytes { #expect(pss < base, "\(two)") }
        try? FileManager.default.removeItem(atPath: Self.privateCache)
    }
}
