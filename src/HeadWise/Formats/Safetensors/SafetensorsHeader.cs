using System.Text.Json;

namespace HeadWise.Formats.Safetensors;

/// <summary>
/// Parses and validates a safetensors JSON header against the size of the data region, before any tensor is made:
/// a bad file fails here with the tensor and field named, never later as a crash or garbage numbers.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The Rust reference implementation refuses headers above 100 MB; so do we.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public static (Dictionary<string, SafetensorsTensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(
        string path, ReadOnlySpan<byte> json, long dataLength)
    {
        using (var doc = BoundedFile.ParseJson(json.ToArray(), path, "safetensors header"))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidModelFileException(path, "safetensors header must be a JSON object");
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__") { ReadMetadata(path, prop.Value, metadata); continue; }
                if (tensors.ContainsKey(prop.Name))
                    throw new InvalidModelFileException(path, $"tensor {ErrorText.Quote(prop.Name)} appears twice in the header");
                tensors[prop.Name] = ReadEntry(path, prop.Name, prop.Value, dataLength);
            }
            CheckCoverage(path, tensors.Values, dataLength);
            return (tensors, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidModelFileException(path, "__metadata__ must be an object of strings");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new InvalidModelFileException(path, $"__metadata__ value {ErrorText.Quote(m.Name)} must be a string");
            metadata[m.Name] = m.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ReadEntry(string path, string name, JsonElement e, long dataLength)
    {
        InvalidModelFileException Fail(string problem) => new InvalidModelFileException(path, $"tensor {ErrorText.Quote(name)}: {problem}");
        if (e.ValueKind != JsonValueKind.Object) throw Fail("header entry is not an object");

        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Fail("missing string field 'dtype'");
        var dtype = dt.GetString()!;
        var size = SafetensorsDType.SizeOf(dtype);
        if (size == 0) throw Fail($"unsupported dtype {ErrorText.Quote(dtype)}");

        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Fail("missing array field 'shape'");
        var shape = new long[sh.GetArrayLength()];
        long count = 1;
        var i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (!Integer(d, out var dim)) throw Fail($"shape entry {i} is not an integer");
            else if (dim < 0) throw Fail($"shape entry {i} is negative ({dim})");
            else
            {
                shape[i] = dim;
                try { count = checked(count * dim); } catch (OverflowException) { throw Fail("shape element count overflows"); }
            }
            i++;
        }

        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Fail("field 'data_offsets' must be an array [begin, end]");
        long begin = 0, end = 0;
        if (!Integer(off[0], out begin) || !Integer(off[1], out end) || begin < 0 || end < 0)
            throw Fail("data_offsets must be non-negative integers");
        if (begin > end) throw Fail($"data_offsets out of order (begin {begin} > end {end})");
        if (end > dataLength) throw Fail($"data_offsets end {end} is past the end of the data region ({dataLength} bytes)");

        long bytes = 0;
        try { bytes = checked(count * size); } catch (OverflowException) { throw Fail("byte size overflows"); }
        if (bytes != end - begin)
            throw Fail($"dtype {dtype} with shape [{string.Join(", ", shape)}] needs {bytes} bytes but data_offsets span {end - begin}");
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    // TryGetInt64 throws on a string or any non-number, so the kind is checked first.
    private static bool Integer(JsonElement e, out long value)
    {
        value = 0;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out value);
    }

    /// <summary>Tensors must tile the data region exactly: no overlap, no gap, nothing left over (as the reference reader requires).</summary>
    private static void CheckCoverage(string path, IEnumerable<SafetensorsTensorInfo> tensors, long dataLength)
    {
        long expected = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin < expected)
                throw new InvalidModelFileException(path,
                    $"tensor '{t.Name}' data_offsets [{t.Begin}, {t.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]");
            if (t.Begin > expected)
                throw new InvalidModelFileException(path,
                    $"tensor '{t.Name}' data_offsets begin at {t.Begin}, leaving a gap after byte {expected} (tensors must cover the data region contiguously)");
            expected = t.End;
            previous = t;
        }
        if (expected != dataLength)
            throw new InvalidModelFileException(path, $"tensors cover {expected} bytes but the data region holds {dataLength} (trailing bytes)");
    }
}
