import Foundation
import Testing
@testable import Tinh

/// The TINH_TEST_* fault hooks, parsed once into a `FaultPlan` value; the write budget they set.
@Suite struct FaultPlanTests {
    @Test func noVariablesMeanNoFaults() throws {
        #expect(try FaultPlan(environment: [:]) == .none)
        #expect(try FaultPlan(environment: ["PATH": "/bin", "TINH_TEST_STALL": ""]) == .none, "an empty value is unset")
        #expect(FaultPlan.none.makeWriteBudget() == nil)
    }

    @Test func everyVariableBecomesItsField() throws {
        let plan = try FaultPlan(environment: [
            "TINH_TEST_KILL_RANK": "1:2", "TINH_TEST_STALL": "3:1:0.5", "TINH_TEST_NAN_AT_STEP": "1:1,3,4:1",
            "TINH_TEST_RANK_MODEL": "1:tiny:5", "TINH_TEST_KILL_AFTER_STEP": "7", "TINH_TEST_SIGNAL": "4:1",
            "TINH_TEST_PERTURB_EXTRA_STATE_RANK": "1", "TINH_TEST_FAIL_WRITE_AFTER_BYTES": "70000", "TINH_TEST_RANK_SEED": "1:99",
        ])
        #expect(plan.killRank == .init(step: 1, rank: 2))
        #expect(plan.stall == .init(step: 3, rank: 1, seconds: 0.5))
        #expect(plan.nanSteps == [.init(step: 1, rank: 1), .init(step: 3, rank: 0), .init(step: 4, rank: 1)])
        #expect(plan.rankModel == .init(rank: 1, spec: "tiny:5") && plan.model(forRank: 1) == "tiny:5" && plan.model(forRank: 0) == nil)
        #expect(plan.killAfterStep == 7 && plan.signal == .init(step: 4, rank: 1))
        #expect(plan.perturbs(rank: 1) && !plan.perturbs(rank: 0))
        #expect(plan.failWritesAfterBytes == 70000 && plan.makeWriteBudget()?.left == 70000)
        #expect(plan.seed(forRank: 1) == 99 && plan.seed(forRank: 0) == nil)
        #expect(FaultPlan.variables.count == 9)
    }

    @Test(arguments: [
        ("TINH_TEST_KILL_RANK", "1"), ("TINH_TEST_KILL_RANK", "a:b"), ("TINH_TEST_SIGNAL", "1:2:3"), ("TINH_TEST_SIGNAL", "-1:0"),
        ("TINH_TEST_STALL", "1:1"), ("TINH_TEST_STALL", "1:1:soon"), ("TINH_TEST_NAN_AT_STEP", "1,x"), ("TINH_TEST_NAN_AT_STEP", "1:2:3"),
        ("TINH_TEST_RANK_MODEL", "tiny"), ("TINH_TEST_RANK_MODEL", "1:"), ("TINH_TEST_KILL_AFTER_STEP", "seven"),
        ("TINH_TEST_PERTURB_EXTRA_STATE_RANK", "-1"), ("TINH_TEST_FAIL_WRITE_AFTER_BYTES", "1k"), ("TINH_TEST_RANK_SEED", "1"),
    ]) func aBadValueIsAnErrorNamingTheVariable(name: String, value: String) {
        do {
            _ = try FaultPlan(environment: [name: value])
            Issue.record("\(name)=\(value) was accepted")
        } catch {
            #expect("\(error)".hasPrefix("\(name)=\(value): expected "), "\(error)")
        }
    }

    /// The budget counts every write it is passed to; writes without it never fail.
    @Test func writeBudgetFailsLikeAFullDiskOnceSpent() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tinh-budget-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let budget = WriteBudget(bytes: 10)
        try AtomicFile.write(Data(repeating: 1, count: 6), to: dir.appendingPathComponent("a").path, budget: budget)
        try AtomicFile.write(Data(repeating: 1, count: 100), to: dir.appendingPathComponent("free").path)
        #expect(budget.left == 4)
        #expect(throws: TinhError.self) { try AtomicFile.write(Data(repeating: 1, count: 5), to: dir.appendingPathComponent("b").path, budget: budget) }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("b").path))
        #expect(throws: TinhError.self) { try AtomicFile.write(Data(repeating: 1, count: 1), to: dir.appendingPathComponent("c").path, budget: budget) }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == ["a", "free"], "no temporary files left")
    }
}
