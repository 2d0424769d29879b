import Foundation

/// Checks at start that every rank runs the same job: same config, model, data and adapter init.
/// Each rank contributes named facts (hashes, settings); all ranks see all facts, so a difference
/// becomes the same clear error on every rank instead of a hang or a silently wrong run.
public enum RankAgreement {
    public static func check(_ facts: [String: String], comm: Communicator) throws {
        guard comm.size > 1 else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let all = try comm.allGatherBytes(Array(try encoder.encode(facts)))
        let decoded = try all.map { try JSONDecoder().decode([String: String].self, from: Data($0)) }
        let reference = decoded[0]
        var differences: [String] = []
        for (rank, other) in decoded.enumerated().dropFirst() {
            for key in Set(reference.keys).union(other.keys).sorted() where reference[key] != other[key] {
                differences.append("\(key): rank 0 has \(reference[key] ?? "nothing"), rank \(rank) has \(other[key] ?? "nothing")")
            }
        }
        if !differences.isEmpty {
            throw TinhError.invalidInput("ranks disagree, so they would not train the same model:\n  " + differences.joined(separator: "\n  "))
        }
    }
}
