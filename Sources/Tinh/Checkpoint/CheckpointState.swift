import Foundation

/// `state.json` of a checkpoint, apart from the trainer's own object: what was saved, with which
/// settings, and a checksum of every data file. Decoded strictly; unknown fields are ignored.
public struct CheckpointState: Codable, Equatable {
    public static let currentVersion = 1
    public static let formatName = "tinh-checkpoint"

    public struct FileCheck: Codable, Equatable {
        public var bytes: Int
        public var fnv1a64: String
    }

    public struct OptimizerState: Codable, Equatable {
        public var name: String
        public var stepCount: Int
        public var beta1: Float
        public var beta2: Float
        public var epsilon: Float

        enum CodingKeys: String, CodingKey {
            case name, beta1, beta2, epsilon
            case stepCount = "step_count"
        }
    }

    public var format: String
    public var version: Int
    public var step: Int
    public var adapter: AdapterConfig
    public var optimizer: OptimizerState
    /// File name in the checkpoint directory -> its size and checksum.
    public var files: [String: FileCheck]
    /// Checksum of the trainer state's JSON bytes as embedded.
    public var trainerStateFNV1a64: String

    enum CodingKeys: String, CodingKey {
        case format, version, step, adapter, optimizer, files
        case trainerStateFNV1a64 = "trainer_state_fnv1a64"
    }
}

extension CheckpointState {
    /// Decodes a checkpoint's state.json: the header and the raw bytes of the trainer's state.
    public static func decodeFile(_ data: Data, path: String) throws -> (state: CheckpointState, trainerState: Data) {
        try CheckpointStateFile.decode(data, path: path)
    }
}

/// Reading and writing `state.json` with the trainer's JSON object embedded verbatim under
/// "trainer_state", so the trainer gets back exactly the bytes it saved.
enum CheckpointStateFile {
    static let trainerStateKey = "trainer_state"

    static func encode(_ state: CheckpointState, trainerState: Data) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var head = try encoder.encode(state)
        // Replace the closing brace with the embedded object, so it comes last and verbatim.
        guard let close = head.lastIndex(of: UInt8(ascii: "}")) else { throw TinhError.invalidInput("cannot encode state.json") }
        head.removeSubrange(close...)
        while let last = head.last, last == 0x20 || last == 0x0A { head.removeLast() }
        head.append(contentsOf: Array(",\n  \"\(trainerStateKey)\" : ".utf8))
        head.append(trainerState)
        head.append(contentsOf: Array("\n}\n".utf8))
        return head
    }

    /// The header and the raw bytes of "trainer_state".
    static func decode(_ data: Data, path: String) throws -> (CheckpointState, Data) {
        let state: CheckpointState
        do { state = try JSONDecoder().decode(CheckpointState.self, from: data) } catch {
            throw TinhError.badFile(path: path, reason: "not a Tinh checkpoint state: \(SafeTensorsFile.describe(error))")
        }
        let bytes = [UInt8](data)
        guard let span = try JSONSpan.topLevelValue(of: trainerStateKey, in: bytes, path: path) else {
            throw TinhError.badFile(path: path, reason: "no \"\(trainerStateKey)\" object")
        }
        return (state, Data(bytes[span]))
    }

    /// The trainer's state with surrounding whitespace removed; it must be one JSON object.
    static func checkTrainerState(_ data: Data) throws -> Data {
        let ws: Set<UInt8> = [0x20, 0x0A, 0x0D, 0x09]
        guard let first = data.firstIndex(where: { !ws.contains($0) }),
              let last = data.lastIndex(where: { !ws.contains($0) }) else {
            throw TinhError.invalidInput("checkpoint: the trainer state is empty; it must be a JSON object")
        }
        let trimmed = data.subdata(in: first..<(last + 1))
        guard trimmed.first == UInt8(ascii: "{"),
              (try? JSONSerialization.jsonObject(with: trimmed)) is [String: Any] else {
            throw TinhError.invalidInput("checkpoint: the trainer state must be one JSON object")
        }
        return trimmed
    }
}
