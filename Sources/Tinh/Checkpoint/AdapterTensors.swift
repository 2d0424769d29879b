import Foundation

/// Named views of the flat adapter and optimizer buffers, for writing, and checked copies from a
/// safetensors file back into them, for reading. Shared by checkpoints and the PEFT export.
enum AdapterTensors {
    /// One tensor per slot, viewing `buffer` (no copy); `suffix` is appended to every name.
    static func views(of buffer: Tensor, slots: [AdapterParameters.Slot], suffix: String = "") -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for slot in slots {
            out[slot.name + suffix] = Tensor(shape: slot.shape, borrowing: buffer.data + slot.offset, owner: buffer)
        }
        return out
    }

    /// Checks that `file` holds exactly the tensors `slots` need (names with `suffix`, shapes),
    /// and nothing else but `alsoAllowed` names (frozen tensors, checked separately). `key` maps a
    /// file name to the slot name it stands for (PEFT spellings).
    static func check(_ file: SafeTensorsFile, slots: [AdapterParameters.Slot], suffix: String = "",
                      key: (String) -> String = { $0 }, requireF32: Bool = true,
                      alsoAllowed: Set<String> = []) throws -> [String: String] {
        var fileName: [String: String] = [:]  // slot name + suffix -> name in the file
        for info in file.tensors {
            let k = key(info.name)
            if let other = fileName[k] {
                throw TinhError.badFile(path: file.path, reason: "tensors '\(other)' and '\(info.name)' both hold '\(k)'")
            }
            fileName[k] = info.name
        }
        let wanted = Set(slots.map { $0.name + suffix }).union(alsoAllowed)
        if let extra = fileName.keys.sorted().first(where: { !wanted.contains($0) }) {
            throw TinhError.badFile(path: file.path, reason: "tensor '\(fileName[extra] ?? extra)' matches no adapted module of this model and settings")
        }
        for slot in slots {
            let name = slot.name + suffix
            guard let stored = fileName[name], let info = file.info(stored) else {
                throw TinhError.badFile(path: file.path, reason: "missing tensor '\(name)'")
            }
            guard info.shape == slot.shape else {
                throw TinhError.badFile(path: file.path, reason: "tensor '\(stored)' has shape \(info.shape), the adapter needs \(slot.shape)")
            }
            if requireF32, info.dtype != .F32 {
                throw TinhError.badFile(path: file.path, reason: "tensor '\(stored)' is \(info.dtype.rawValue); checkpoints store F32")
            }
            guard info.dtype.isFloatReadable else {
                throw TinhError.unsupported("tensor '\(stored)' in \(file.path) has dtype \(info.dtype.rawValue)")
            }
        }
        return fileName
    }

    /// Copies every slot from `file` (already `check`ed; `names` from it) into `buffer`.
    /// F32 is copied byte for byte, so values come back bit-exactly.
    static func copy(from file: SafeTensorsFile, names: [String: String], slots: [AdapterParameters.Slot],
                     suffix: String = "", into buffer: Tensor) throws {
        for slot in slots {
            let stored = names[slot.name + suffix] ?? slot.name + suffix
            let t = try file.tensor(stored)
            (buffer.data + slot.offset).update(from: t.data, count: slot.count)
        }
    }

    /// The frozen tensors `expected` (regenerated from the seed) must be in `file` bit for bit:
    /// a resumed run then continues with exactly the A it was trained with.
    static func checkIdentical(_ file: SafeTensorsFile, _ expected: [String: Tensor]) throws {
        for (name, tensor) in expected.sorted(by: { $0.key < $1.key }) {
            guard file.info(name) != nil else { throw TinhError.badFile(path: file.path, reason: "missing frozen tensor '\(name)'") }
            let stored = try file.tensor(name)
            guard stored.shape == tensor.shape, memcmp(stored.data, tensor.data, tensor.count * MemoryLayout<Float>.stride) == 0 else {
                throw TinhError.badFile(path: file.path, reason: "frozen tensor '\(name)' differs from the one regenerated from the seed")
            }
        }
    }
}
