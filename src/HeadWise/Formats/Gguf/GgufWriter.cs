using System.Runtime.InteropServices;
using System.Text;

namespace HeadWise.Formats.Gguf;

/// <summary>A tensor to write. Shape is in ggml order (Shape[0] fastest); Type is F32, F16 or BF16.</summary>
internal sealed record GgufTensorData(string Name, long[] Shape, GgmlType Type, ReadOnlyMemory<float> Data)
{
    /// <summary>When set, the elements come from here chunk by chunk (fill(start, chunk)) instead of <see cref="Data"/>:
    /// a tensor too big to hold as floats (a random 8B-shaped checkpoint) is never materialised.</summary>
    public Action<long, Span<float>>? Fill { get; init; }

    /// <summary>A tensor whose elements <paramref name="fill"/> writes on demand.</summary>
    public static GgufTensorData Generated(string name, long[] shape, GgmlType type, Action<long, Span<float>> fill) =>
        new(name, shape, type, ReadOnlyMemory<float>.Empty) { Fill = fill };

    public long ElementCount => Shape.Aggregate(1L, (a, d) => checked(a * d));
}

/// <summary>
/// Writes GGUF v3. Metadata values get the GGUF type matching their C# type (the mapping <see cref="GgufFile"/>
/// reads back), so reading a written file returns equal values. Tensor data is converted and streamed in
/// chunks, so the whole file is never held in memory.
/// </summary>
internal static class GgufWriter
{
    private const int ChunkElements = 1 << 16;

    public static void Write(string path, IEnumerable<KeyValuePair<string, object>> metadata, IEnumerable<GgufTensorData> tensors, int alignment = GgufFile.DefaultAlignment)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(tensors);
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentException($"alignment {alignment} is not a power of two", nameof(alignment));

        var kvs = metadata.ToList();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var kv in kvs)
            if (!keys.Add(kv.Key)) throw new ArgumentException($"duplicate metadata key '{kv.Key}'", nameof(metadata));
        var given = kvs.FirstOrDefault(kv => kv.Key == "general.alignment");
        if (given.Key != null && !(IsInteger(given.Value, out var ga) && ga == alignment))
            throw new ArgumentException($"metadata general.alignment {given.Value} disagrees with alignment {alignment}", nameof(metadata));
        if (given.Key == null && alignment != GgufFile.DefaultAlignment)
            kvs.Add(new("general.alignment", (uint)alignment));

        var list = tensors.ToList();
        var offsets = Layout(list, alignment);

        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var w = new BinaryWriter(fs, new UTF8Encoding(false), leaveOpen: true);
        w.Write(GgufFile.Magic);
        w.Write(3u);
        w.Write((ulong)list.Count);
        w.Write((ulong)kvs.Count);
        foreach (var kv in kvs)
        {
            WriteString(w, kv.Key);
            WriteValue(w, kv.Value ?? throw new ArgumentException($"metadata '{kv.Key}' is null", nameof(metadata)), kv.Key);
        }
        for (var i = 0; i < list.Count; i++)
        {
            var t = list[i];
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            foreach (var d in t.Shape) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write(offsets[i]);
        }
        w.Flush();
        Pad(fs, alignment);
        var dataStart = fs.Position;
        for (var i = 0; i < list.Count; i++)
        {
            Pad(fs, alignment);
            if ((ulong)(fs.Position - dataStart) != offsets[i]) throw new InvalidOperationException("GGUF layout mismatch");
            WriteData(fs, list[i]);
        }
    }

    /// <summary>Validates the tensors and gives each an aligned offset in the data section.</summary>
    private static ulong[] Layout(List<GgufTensorData> tensors, int alignment)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var offsets = new ulong[tensors.Count];
        ulong next = 0;
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i] ?? throw new ArgumentException("null tensor", nameof(tensors));
            if (!names.Add(t.Name)) throw new ArgumentException($"duplicate tensor name '{t.Name}'", nameof(tensors));
            if (t.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
                throw new ArgumentException($"tensor '{t.Name}': GgufWriter writes F32, F16 or BF16, not {t.Type}", nameof(tensors));
            if (t.Shape is not { Length: >= 1 and <= GgufFile.MaxDims } || t.Shape.Any(d => d <= 0))
                throw new ArgumentException($"tensor '{t.Name}': shape [{string.Join(", ", t.Shape ?? [])}] needs 1 to 4 positive dimensions", nameof(tensors));
            var count = t.ElementCount;
            if (t.Fill is null && count != t.Data.Length)
                throw new ArgumentException($"tensor '{t.Name}': shape holds {count} elements but Data has {t.Data.Length}", nameof(tensors));
            next = (next + (ulong)alignment - 1) / (ulong)alignment * (ulong)alignment;
            offsets[i] = next;
            next += (ulong)count * (t.Type == GgmlType.F32 ? 4UL : 2UL);
        }
        return offsets;
    }

    private static void WriteData(Stream s, GgufTensorData t)
    {
        if (t.Fill is { } fill)
        {
            var chunk = new float[ChunkElements * 16];
            for (long start = 0; start < t.ElementCount; start += chunk.Length)
            {
                int n = (int)Math.Min(chunk.Length, t.ElementCount - start);
                fill(start, chunk.AsSpan(0, n));
                WriteData(s, t with { Fill = null, Data = chunk.AsMemory(0, n), Shape = [n] });
            }
            return;
        }
        var data = t.Data.Span;
        if (t.Type == GgmlType.F32)
        {
            s.Write(MemoryMarshal.AsBytes(data));
            return;
        }
        var buf = new ushort[Math.Min(ChunkElements, data.Length)];
        for (var start = 0; start < data.Length; start += buf.Length)
        {
            var chunk = data.Slice(start, Math.Min(buf.Length, data.Length - start));
            for (var i = 0; i < chunk.Length; i++)
                buf[i] = t.Type == GgmlType.F16 ? BitConverter.HalfToUInt16Bits((Half)chunk[i]) : BFloat16.FromFloat(chunk[i]);
            s.Write(MemoryMarshal.AsBytes(buf.AsSpan(0, chunk.Length)));
        }
    }

    private static void Pad(Stream s, int alignment)
    {
        var pad = (int)((alignment - s.Position % alignment) % alignment);
        if (pad > 0) s.Write(new byte[pad]);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static bool IsInteger(object? v, out long value)
    {
        (var ok, value) = v switch
        {
            byte b => (true, b), sbyte sb => (true, sb), ushort us => (true, us), short s => (true, (long)s),
            uint ui => (true, ui), int i => (true, i), long l => (true, l), ulong ul when ul <= long.MaxValue => (true, (long)ul),
            _ => (false, 0L),
        };
        return ok;
    }

    private static GgufValueType TypeOf(object v, string key) => v switch
    {
        byte => GgufValueType.UInt8,
        sbyte => GgufValueType.Int8,
        ushort => GgufValueType.UInt16,
        short => GgufValueType.Int16,
        uint => GgufValueType.UInt32,
        int => GgufValueType.Int32,
        float => GgufValueType.Float32,
        bool => GgufValueType.Bool,
        string => GgufValueType.String,
        ulong => GgufValueType.UInt64,
        long => GgufValueType.Int64,
        double => GgufValueType.Float64,
        Array => GgufValueType.Array,
        _ => throw new ArgumentException($"metadata '{key}': no GGUF type for {v.GetType().Name}"),
    };

    private static void WriteValue(BinaryWriter w, object v, string key)
    {
        w.Write((uint)TypeOf(v, key));
        WritePayload(w, v, key);
    }

    private static void WritePayload(BinaryWriter w, object v, string key)
    {
        switch (v)
        {
            case byte b: w.Write(b); break;
            case sbyte sb: w.Write(sb); break;
            case ushort us: w.Write(us); break;
            case short s: w.Write(s); break;
            case uint ui: w.Write(ui); break;
            case int i: w.Write(i); break;
            case float f: w.Write(f); break;
            case bool bo: w.Write(bo ? (byte)1 : (byte)0); break;
            case string str: WriteString(w, str); break;
            case ulong ul: w.Write(ul); break;
            case long l: w.Write(l); break;
            case double d: w.Write(d); break;
            case Array a: WriteArray(w, a, key); break;
            default: throw new ArgumentException($"metadata '{key}': no GGUF type for {v.GetType().Name}");
        }
    }

    /// <summary>Typed arrays map to arrays of their element type; object[] is an array of arrays.</summary>
    private static void WriteArray(BinaryWriter w, Array a, string key)
    {
        if (a.Rank != 1) throw new ArgumentException($"metadata '{key}': multi-dimensional arrays are not GGUF values");
        var elem = a.GetType().GetElementType()!;
        var elemType = elem == typeof(object) ? GgufValueType.Array
            : elem.IsArray ? GgufValueType.Array
            : TypeOf(elem == typeof(string) ? "" : Activator.CreateInstance(elem)!, key);
        w.Write((uint)elemType);
        w.Write((ulong)a.Length);
        foreach (var e in a)
        {
            if (e is null) throw new ArgumentException($"metadata '{key}': null array element");
            if (elemType == GgufValueType.Array)
            {
                if (e is not Array inner) throw new ArgumentException($"metadata '{key}': an object[] value must hold only arrays");
                WriteArray(w, inner, key); // an array element carries its own element type and count
            }
            else WritePayload(w, e, key);
        }
    }
}
