import Foundation

/// What `ldae-prep` does with a PNG's gAMA chunk (`--png-gamma`, recorded as the shard attribute `png_gamma`).
public enum PNGGamma: String, MethodOption { case ignore, srgb }

/// Why a file was skipped. `category` is the key counted in index.json's `skipped_counts`.
public struct SkipReason: Error, Sendable, Equatable, CustomStringConvertible {
    public var category: String
    public var detail: String
    public init(_ category: String, _ detail: String) { self.category = category; self.detail = detail }
    public var description: String { detail.isEmpty ? category : "\(category): \(detail)" }
}

/// One image file -> its S x S patches: read, sniff by magic bytes, decode (reduced DCT scale when the target
/// is much smaller), apply EXIF orientation, antialiased resize (crop or stretch), patchify. One instance per
/// worker thread (it keeps a read buffer and cached resample weights); not thread-safe.
public final class ImageProcessor {
    public struct Settings: Sendable {
        public var geometry: PatchGeometry
        public var policy: Resize.Policy
        public var filter: ResampleFilter
        public var maxPixels: UInt64
        /// PNG gAMA chunks: ignored (samples as stored, the same pixels as Pillow; the default), or applied
        /// (samples converted from the file's gamma to sRGB, as libpng's simplified API does).
        public var pngGamma: PNGGamma = .ignore
        public init(geometry: PatchGeometry, policy: Resize.Policy = .crop, filter: ResampleFilter = .bicubic,
                    maxPixels: UInt64 = 89_478_485) {
            self.geometry = geometry; self.policy = policy; self.filter = filter; self.maxPixels = maxPixels
        }
    }
    public let settings: Settings
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var image: [UInt8]
    private var axisCache: [[Int]: (ResampleAxis, ResampleAxis)] = [:]

    public init(_ settings: Settings) {
        self.settings = settings
        image = [UInt8](repeating: 0, count: settings.geometry.imageSize * settings.geometry.imageSize * 3)
    }

    /// Result of one file: corrupt-data warnings seen (decoded anyway).
    public struct Info: Sendable { public var warnings: Int }

    /// Processes `path` and writes its patches [T, D] to `out`; throws SkipReason for a bad file.
    public func process(path: String, into out: UnsafeMutablePointer<UInt8>) throws -> Info {
        try process(rawPath: Array(path.utf8), into: out)
    }

    /// Processes the file at a path given as bytes (names need not be UTF-8).
    public func process(rawPath: [UInt8], into out: UnsafeMutablePointer<UInt8>) throws -> Info {
        let n = try readFile(rawPath)
        return try buffer.withUnsafeBytes { raw throws -> Info in
            try process(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<n]), into: out)
        }
    }

    /// Processes encoded image bytes (see `process(path:into:)`).
    public func process(bytes: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) throws -> Info {
        if bytes.count == 0 { throw SkipReason("empty", "empty file (0 bytes)") }
        let (format, other) = Codecs.sniff(bytes)
        guard let format else {
            if let other { throw SkipReason("unsupported_format", "\(other) is not supported (JPEG and PNG are)") }
            throw SkipReason("not_an_image", "not a JPEG or PNG file (unrecognized magic bytes)")
        }
        let s = settings.geometry.imageSize
        var img: DecodedImage
        do {
            img = try Codecs.decode(bytes, format: format, minSide: s, maxPixels: settings.maxPixels, pngGamma: settings.pngGamma == .srgb)
        } catch let e as CodecError {
            switch e {
            case .tooLarge(let m): throw SkipReason("too_large", m + " (--max-pixels)")
            case .decode(let m): throw SkipReason(m.hasPrefix("truncated") ? "truncated" : "corrupt", "\(format.rawValue): \(m)")
            case .io(let m): throw SkipReason("unreadable", m)
            }
        } catch {
            throw SkipReason("corrupt", "\(error)")
        }
        if img.width < 1 || img.height < 1 { throw SkipReason("corrupt", "image has no pixels") }
        // DCT scale factor k (1, 2, 4, 8): the decoder returned ceil(source / k) pixels per axis.
        var k = 1
        while k < 8 && (img.sourceWidth + k - 1) / k != img.width { k *= 2 }
        if (img.sourceWidth + k - 1) / k != img.width || (img.sourceHeight + k - 1) / k != img.height { k = 1 }
        var srcW = k == 1 ? img.width : img.sourceWidth, srcH = k == 1 ? img.height : img.sourceHeight
        if (2...8).contains(img.orientation) {
            if (5...8).contains(img.orientation) { swap(&srcW, &srcH) }
            let r = Orientation.apply(img.orientation, pixels: img.pixels, width: img.width, height: img.height)
            img.pixels = r.pixels; img.width = r.width; img.height = r.height
        }
        let g = settings.geometry
        if img.width == s && img.height == s {
            img.pixels.withUnsafeBufferPointer { ImageProcessor.patchify($0.baseAddress!, g, into: out) }
        } else {
            let (ax, ay) = axes(width: img.width, height: img.height, sourceWidth: srcW, sourceHeight: srcH, k: k)
            image.withUnsafeMutableBufferPointer { im in
                img.pixels.withUnsafeBufferPointer { Resize.resample($0.baseAddress!, width: img.width, height: img.height, xAxis: ax, yAxis: ay, into: im.baseAddress!) }
                ImageProcessor.patchify(im.baseAddress!, g, into: out)
            }
        }
        return Info(warnings: img.warnings)
    }

    private func axes(width w: Int, height h: Int, sourceWidth sw: Int, sourceHeight sh: Int, k: Int) -> (ResampleAxis, ResampleAxis) {
        let key = [w, h, sw, sh]
        if let a = axisCache[key] { return a }
        let s = settings.geometry.imageSize
        let b = Resize.box(settings.policy, width: sw, height: sh, scale: 1 / Double(k))
        let a = (ResampleAxis(inSize: w, boxStart: b.x, boxSize: b.w, outSize: s, filter: settings.filter),
                 ResampleAxis(inSize: h, boxStart: b.y, boxSize: b.h, outSize: s, filter: settings.filter))
        if axisCache.count > 64 { axisCache.removeAll() }
        axisCache[key] = a
        return a
    }

    /// [S, S, 3] -> [T, D] patches (token layout of PatchGeometry), copying one patch row at a time.
    public static func patchify(_ img: UnsafePointer<UInt8>, _ g: PatchGeometry, into out: UnsafeMutablePointer<UInt8>) {
        let p = g.patchSize, s = g.imageSize, c = g.channels, rowBytes = p * c
        var d = out
        for ty in 0..<g.grid {
            for tx in 0..<g.grid {
                for py in 0..<p {
                    (d).update(from: img + ((ty * p + py) * s + tx * p) * c, count: rowBytes)
                    d += rowBytes
                }
            }
        }
    }

    /// Bytes read from the last file (tests: a non-image is recognised from its first bytes).
    private(set) var lastBytesRead = 0

    /// The first bytes read from every file: enough for the magic bytes and a PNG's IHDR.
    static let headerBytes = 4096

    /// Reads a file into the reusable buffer, bounded by what it can need: the header first (a non-image
    /// is skipped without reading the rest; an image whose declared size is above --max-pixels too), then
    /// at most `readLimit` of the declared dimensions (bytes after that cannot belong to the image).
    private func readFile(_ path: [UInt8]) throws -> Int {
        let fd = ImageFolder.withCPath(path) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        if fd < 0 { throw SkipReason("unreadable", "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw SkipReason("unreadable", "cannot stat (\(String(cString: strerror(errno))))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SkipReason("not_a_file", "not a regular file") }
        let size = Int(st.st_size)
        lastBytesRead = 0
        var got = try readAt(fd, upTo: min(size, ImageProcessor.headerBytes), from: 0)
        let limit = try buffer.withUnsafeBytes { b -> Int in
            let head = UnsafeRawBufferPointer(rebasing: b[0..<got])
            guard let format = Codecs.sniff(head).format else { return got }   // process(bytes:) says why
            let dims = format == .png ? Codecs.pngDimensions(head) : Codecs.jpegDimensions(fd: fd, size: size)
            guard let (w, h) = dims else { return size }
            if UInt64(w) * UInt64(h) > settings.maxPixels {
                throw SkipReason("too_large", "image is \(w)x\(h), above the pixel limit \(settings.maxPixels) (--max-pixels)")
            }
            return Codecs.readLimit(width: w, height: h)
        }
        let want = min(size, limit)
        if want > got { got = try readAt(fd, upTo: want, from: got) }
        return got
    }

    /// Reads bytes [from, upTo) of `fd` into the buffer (grown as needed); returns how many it holds.
    private func readAt(_ fd: Int32, upTo end: Int, from start: Int) throws -> Int {
        if end > buffer.count { buffer += [UInt8](repeating: 0, count: end - buffer.count) }
        var got = start
        let err: Int32? = buffer.withUnsafeMutableBytes { b in
            while got < end {
                let r = pread(fd, b.baseAddress! + got, end - got, off_t(got))
                if r < 0 { if errno == EINTR { continue }; return errno }
                if r == 0 { break }
                got += r
            }
            return nil
        }
        lastBytesRead += got - start
        if let err { throw SkipReason("unreadable", "read error (\(String(cString: strerror(err))))") }
        return got
    }
}
