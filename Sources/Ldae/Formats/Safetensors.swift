import Foundation

/// safetensors (https://huggingface.co/docs/safetensors): 8-byte little-endian header length, a JSON
/// header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the raw little-endian data.
public enum Safetensors {
    public enum DType: String, Sendable { case f32 = "F32", f16 = "F16" }

    /// A named tensor of float values (`NamedTensor`, the model's export type).
    public typealias Tensor = NamedTensor

    /// Serialises tensors (in the given order) with string metadata; `dtype` f16 halves the size.
    public static func encode(_ tensors: [Tensor], metadata: [String: String] = [:], dtype: DType = .f32) -> Data {
        let esize = dtype == .f32 ? 4 : 2
        var header = "{"
        var offset = 0
        var parts: [String] = []
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(meta)}")
        }
        for t in tensors {
            let n = t.values.count * esize
            parts.append("\(jsonString(t.name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + n)]}")
            offset += n
        }
        header += parts.joined(separator: ",") + "}"
        var hbytes = Array(header.utf8)
        while (8 + hbytes.count) % 8 != 0 { hbytes.append(0x20) }
        var out = Data(capacity: 8 + hbytes.count + offset)
        var len = UInt64(hbytes.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(contentsOf: hbytes)
        for t in tensors {
            switch dtype {
            case .f32: t.values.withUnsafeBytes { out.append(contentsOf: $0) }
            case .f16:
                let h = t.values.map { Float16($0).bitPattern.littleEndian }
                h.withUnsafeBytes { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    public static func write(_ tensors: [Tensor], metadata: [String: String] = [:], dtype: DType = .f32, to path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata, dtype: dtype), to: path)
    }

    /// Reads a safetensors file (F32 or F16 tensors, converted to Float) and its metadata.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], order: [String], metadata: [String: String]) {
        let data = try FileUtil.read(path)
        guard data.count >= 8 else { throw LdaeError("not a safetensors file (too short)", file: path) }
        let hlen = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard hlen < UInt64(data.count - 8), hlen < 100_000_000 else { throw LdaeError("not a safetensors file (bad header length)", file: path) }
        let hdata = data.subdata(in: 8..<(8 + Int(hlen)))
        guard let obj = try? JSONSerialization.jsonObject(with: hdata) as? [String: Any] else {
            throw LdaeError("not a safetensors file (header is not JSON)", file: path)
        }
        let base = 8 + Int(hlen)
        var tensors: [String: Tensor] = [:]
        var order: [(Int, String)] = []
        var metadata: [String: String] = [:]
        for (name, v) in obj {
            if name == "__metadata__" { metadata = (v as? [String: String]) ?? [:]; continue }
            guard let d = v as? [String: Any], let dt = d["dtype"] as? String, let shape = d["shape"] as? [Int],
                  let offs = d["data_offsets"] as? [Int], offs.count == 2 else {
                throw LdaeError("tensor '\(name)' has a malformed header entry", file: path)
            }
            let esize = dt == "F32" ? 4 : dt == "F16" ? 2 : 0
            guard esize > 0 else { throw LdaeError("tensor '\(name)' has unsupported dtype \(dt)", file: path) }
            guard let n = Checked.count(shape), let bytes = Checked.bytes(n, esize) else {
                throw LdaeError("tensor '\(name)' has an impossible shape \(shape)", file: path)
            }
            guard offs[0] >= 0, offs[1] >= offs[0], offs[1] - offs[0] == bytes,
                  Checked.inside(start: offs[0], length: bytes, total: data.count - base) else {
                throw LdaeError("tensor '\(name)' data is out of bounds (file truncated?)", file: path)
            }
            var vals = [Float](repeating: 0, count: n)
            data.withUnsafeBytes { raw in
                let p = raw.baseAddress! + base + offs[0]
                if esize == 4 {
                    for i in 0..<n { vals[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                } else {
                    for i in 0..<n { vals[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                }
            }
            tensors[name] = Tensor(name, shape: shape, values: vals)
            order.append((offs[0], name))
        }
        return (tensors, order.sorted { $0.0 < $1.0 }.map { $0.1 }, metadata)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 { out += String(format: "\\u%04x", ch.value) } else { out.unicodeScalars.append(ch) }
            }
        }
        return out + "\""
    }
}

/// How published weights are stored (`ldae-train --weights-dtype`): float32, or float16 at half the size.
public enum WeightsDType: String, MethodOption {
    case f32, f16
    public var safetensors: Safetensors.DType { self == .f32 ? .f32 : .f16 }
}
