import Foundation
import Testing
@testable import Tinh
@testable import TinhTools

/// launch/scaling --quick on this node: the sweep's CSV, table and projection are complete and sane.
@Suite(.serialized) struct ScalingSweepTests {
    @Test func quickSweepWritesTheTableTheCSVAndTheProjection() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-scaling-\(UUID().uuidString)").path
        let script = TestProcess.packageRoot.appendingPathComponent("launch/scaling").path
        let r = try TestProcess.run([script, "--quick", "--out", out, "--no-plot"], timeout: 240)
        try #require(r.status == 0, "\(r.output)")
        #expect(r.output.contains("| setting | scaling | method |"))
        #expect(r.output.contains("all-reduce fit: α ="))

        let rows = try SimpleCSV.rows(path: out + "/scaling.csv")
        // weak and strong × ranks 1, 2 (the 2-rank run is shared: same global batch of 2).
        #expect(rows.count == 4, "\(rows)")
        for row in rows {
            let eff = try #require(Double(row["efficiency"] ?? ""))
            let step = try #require(Double(row["step_s"] ?? ""))
            #expect(eff > 0 && eff.isFinite && step > 0, "\(row)")
            #expect(row["method"] == "lora" && row["setting"] == "node")
            if row["ranks"] == "1" { #expect(eff == 1) }
            #expect(Int(row["bytes_per_step"] ?? "") ?? 0 > 0)
        }
        let runs = try SimpleCSV.measuredRuns(path: out + "/scaling.csv")
        #expect(Set(runs.map(\.scaling)) == ["weak", "strong"])
        let points = try SimpleCSV.allreducePoints(path: out + "/allreduce-node.csv")
        #expect(points.count == AllreduceBenchmark.sizes(maxBytes: 65536).count && points.allSatisfy { $0.ranks == 2 && $0.seconds > 0 })
        let projection = try SimpleCSV.rows(path: out + "/projection-node/projection.csv")
        #expect(projection.contains { $0["ranks"] == "4096" && $0["link"] == "10 Gbit/s" })
        #expect(try SimpleCSV.rows(path: out + "/projection-node/check.csv").count == 2)
    }
}
