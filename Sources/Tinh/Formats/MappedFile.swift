import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A whole file memory-mapped for reading.
///
/// The mapping is MAP_PRIVATE with PROT_READ|PROT_WRITE: pages stay shared with the page cache
/// (so all ranks on a node share one copy of the weights) until something writes to them, and an
/// accidental write into a borrowed tensor becomes a private copy instead of a SIGSEGV. The file
/// itself is never modified.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?
    /// True when `base` is heap memory (a copy of bytes already in memory), not a mapping.
    private let ownsHeapCopy: Bool

    public init(path: String) throws {
        self.path = path
        ownsHeapCopy = false
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TinhError.badFile(path: path, reason: "cannot open: \(Self.errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TinhError.badFile(path: path, reason: "cannot stat: \(Self.errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TinhError.badFile(path: path, reason: "not a regular file") }
        count = Int(st.st_size)
        if count == 0 {
            base = nil  // mmap rejects length 0; an empty file is just an empty buffer
            return
        }
        let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw TinhError.badFile(path: path, reason: "cannot mmap \(count) bytes: \(Self.errnoText())")
        }
        base = p
    }

    /// A copy of `bytes` held in memory and read as if it were the file `path` (for parsers fed
    /// from memory: fuzzing, tests). Readers see the same API and the same bounds.
    public init(copying bytes: UnsafeRawBufferPointer, path: String) {
        self.path = path
        count = bytes.count
        ownsHeapCopy = true
        guard count > 0, let source = bytes.baseAddress else { base = nil; return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        p.copyMemory(from: source, byteCount: count)
        base = p
    }

    deinit {
        guard let base else { return }
        if ownsHeapCopy { base.deallocate() } else { munmap(base, count) }
    }

    /// The mapped bytes. Valid as long as this object is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A pointer into the mapping (for borrowed tensors); nil only for an empty file.
    public var baseAddress: UnsafeMutableRawPointer? { base }

    /// A bounds-checked reader over the whole file.
    public func reader() -> ByteReader { ByteReader(bytes: bytes, path: path) }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
