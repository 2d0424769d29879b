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

    /// Drops this process's resident pages of the mapping except those under `keep` (byte ranges,
    /// e.g. tensors borrowed from it). Once the weights are dequantized into memory of their own,
    /// the file's pages serve nothing but would stay in RSS (a Q4 SmolLM2: ~96 MB). Safe because
    /// nothing writes into the mapping: a dropped page that is read again faults back in from the file.
    /// Returns the bytes released.
    @discardableResult
    public func releasePages(keeping keep: [Range<Int>]) -> Int {
        guard let base, count > 0 else { return 0 }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var released = 0, start = 0
        func release(upTo end: Int) {
            // Whole pages strictly inside [start, end).
            let lo = (start + page - 1) / page * page, hi = end / page * page
            if hi > lo, madvise(base + lo, hi - lo, MADV_DONTNEED) == 0 { released += hi - lo }
        }
        for r in keep.sorted(by: { $0.lowerBound < $1.lowerBound }) where r.upperBound > start {
            release(upTo: max(start, r.lowerBound))
            start = r.upperBound
        }
        release(upTo: count)
        return released
    }

    /// Drops this process's resident pages that lie wholly inside `range` (bytes of the file), e.g.
    /// a tensor just converted into memory of its own. Returns the bytes released.
    @discardableResult
    public func releasePages(in range: Range<Int>) -> Int {
        guard let base, count > 0 else { return 0 }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (max(0, range.lowerBound) + page - 1) / page * page, hi = min(count, range.upperBound) / page * page
        return hi > lo && madvise(base + lo, hi - lo, MADV_DONTNEED) == 0 ? hi - lo : 0
    }

    /// The byte range of `pointer ..< pointer + bytes` within the mapping, nil if it lies outside.
    public func range(of pointer: UnsafeRawPointer, bytes: Int) -> Range<Int>? {
        guard let base else { return nil }
        let offset = pointer - UnsafeRawPointer(base)
        return offset >= 0 && offset + bytes <= count ? offset..<(offset + bytes) : nil
    }

    /// A bounds-checked reader over the whole file.
    public func reader() -> ByteReader { ByteReader(bytes: bytes, path: path) }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
