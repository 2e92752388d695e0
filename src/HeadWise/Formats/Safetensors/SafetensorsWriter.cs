using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace HeadWise.Formats.Safetensors;

/// <summary>Writes float data as safetensors (F32, F16 or BF16), streaming tensor bytes straight to disk.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path,
        IEnumerable<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();  // ReadOnlyMemory: listing the entries copies no data
        Check(list);
        var header = BuildHeader(list, metadata);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, header.Length);
        fs.Write(len);
        fs.Write(header);
        var buffer = new byte[1 << 16];
        foreach (var t in list) WriteData(fs, t.dtype, t.data.Span, buffer);
    }

    /// <summary>
    /// Splits the tensors, in order, into <paramref name="shards"/> files named like Hugging Face's
    /// (model-00001-of-00003.safetensors) plus model.safetensors.index.json. Returns the index path.
    /// </summary>
    public static string WriteSharded(string directory,
        IEnumerable<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> tensors, int shards,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        if (shards < 1 || shards > list.Count) throw new ArgumentOutOfRangeException(nameof(shards), $"need 1..{list.Count} shards");
        Check(list);
        Directory.CreateDirectory(directory);
        var weightMap = new Dictionary<string, string>();
        long totalSize = 0;
        for (var s = 0; s < shards; s++)
        {
            var part = list.Skip(s * list.Count / shards).Take((s + 1) * list.Count / shards - s * list.Count / shards).ToList();
            var file = $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
            Write(Path.Combine(directory, file), part, metadata);
            foreach (var t in part) { weightMap[t.name] = file; totalSize += ByteLength(t.dtype, t.data.Length); }
        }
        var indexPath = Path.Combine(directory, "model.safetensors.index.json");
        var index = new { metadata = new { total_size = totalSize }, weight_map = weightMap };
        File.WriteAllText(indexPath, JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
        return indexPath;
    }

    private static void Check(List<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> list)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, shape, dtype, data) in list)
        {
            if (!seen.Add(name)) throw new ArgumentException($"tensor '{name}' is given twice");
            if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved");
            if (!SafetensorsDType.IsReadable(dtype)) throw new ArgumentException($"tensor '{name}': dtype {dtype} cannot be written (F32, F16, BF16)");
            if (shape.Any(d => d < 0)) throw new ArgumentException($"tensor '{name}': negative dimension");
            var count = shape.Aggregate(1L, (a, b) => checked(a * b));
            if (count != data.Length) throw new ArgumentException($"tensor '{name}': shape holds {count} elements but data has {data.Length}");
        }
    }

    private static long ByteLength(string dtype, long count) => count * SafetensorsDType.SizeOf(dtype);

    private static byte[] BuildHeader(List<(string name, long[] shape, string dtype, ReadOnlyMemory<float> data)> list,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in list)
            {
                var end = offset + ByteLength(t.dtype, t.data.Length);
                w.WriteStartObject(t.name);
                w.WriteString("dtype", t.dtype);
                w.WriteStartArray("shape"); foreach (var d in t.shape) w.WriteNumberValue(d); w.WriteEndArray();
                w.WriteStartArray("data_offsets"); w.WriteNumberValue(offset); w.WriteNumberValue(end); w.WriteEndArray();
                w.WriteEndObject();
                offset = end;
            }
            w.WriteEndObject();
        }
        // Pad with spaces to a multiple of 8 so the data region is aligned, as the reference writer does.
        var json = ms.ToArray();
        var padded = (json.Length + 7) / 8 * 8;
        var header = new byte[padded];
        json.CopyTo(header, 0);
        header.AsSpan(json.Length).Fill((byte)' ');
        return header;
    }

    private static void WriteData(Stream fs, string dtype, ReadOnlySpan<float> data, byte[] buffer)
    {
        var elemSize = SafetensorsDType.SizeOf(dtype);
        var perChunk = buffer.Length / elemSize;
        for (var start = 0; start < data.Length; start += perChunk)
        {
            var chunk = data.Slice(start, Math.Min(perChunk, data.Length - start));
            var bytes = buffer.AsSpan(0, chunk.Length * elemSize);
            switch (dtype)
            {
                case SafetensorsDType.F32:
                    MemoryMarshal.AsBytes(chunk).CopyTo(bytes);
                    break;
                case SafetensorsDType.F16:
                    var halves = MemoryMarshal.Cast<byte, Half>(bytes);
                    for (var i = 0; i < chunk.Length; i++) halves[i] = (Half)chunk[i];
                    break;
                default:
                    var bf = MemoryMarshal.Cast<byte, ushort>(bytes);
                    for (var i = 0; i < chunk.Length; i++) bf[i] = BFloat16.FromFloat(chunk[i]);
                    break;
            }
            fs.Write(bytes);
        }
    }
}
