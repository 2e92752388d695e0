using HeadWise.Models;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// A GGUF file's tensors under the canonical names of the spec's <see cref="TensorLayout"/>: GGUF names are the
/// canonical ones except GPT-2's fused blk.N.attn_qkv, presented as separate attn_q/attn_k/attn_v row blocks.
/// </summary>
internal sealed class GgufTensorSource : ITensorSource
{
    private readonly GgufFile _file;
    private readonly Dictionary<string, (GgufTensorInfo Info, long RowStart, long Rows)> _map = new(StringComparer.Ordinal);

    public GgufTensorSource(GgufFile file, ModelSpec spec)
    {
        _file = file;
        var fusedRows = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var slot in TensorLayout.For(spec))
        {
            if (!file.TryGetTensor(slot.GgufName, out var t)) continue;
            // Every type is checked before any tensor byte is read: a file HeadWise cannot read fails at once, naming it.
            if (!GgmlTypeInfo.CanDequantize(t.Type)) throw file.UnreadableType(t);
            bool fused = slot.GgufName != slot.Name;
            long rows = fused ? slot.Shape[0] : t.TorchShape[0];
            if (fused) fusedRows[t.Name] = Math.Max(fusedRows.GetValueOrDefault(t.Name), slot.GgufRowStart + rows);
            _map[slot.Name] = (t, slot.GgufRowStart, rows);
        }
        foreach (var (name, rows) in fusedRows)
            if (file.GetTensor(name).TorchShape[0] != rows)
                throw new InvalidModelFileException(file.Path, $"tensor '{name}' has {file.GetTensor(name).TorchShape[0]} rows, expected {rows} (q + k + v)");
    }

    public string SourcePath => _file.Path;
    public IReadOnlyCollection<string> Names => _map.Keys;
    public bool Contains(string name) => _map.ContainsKey(name);

    public long[] Shape(string name)
    {
        var (info, _, rows) = Get(name);
        var shape = (long[])info.TorchShape.Clone();
        shape[0] = rows;
        return shape;
    }

    public GgmlType? StoredType(string name) => Get(name).Item1.Type;

    /// <summary>Q4_1 and Q5_1 blocks start with fp16 d, then fp16 m (ggml-common.h).</summary>
    public float[]? BlockMinimums(string name)
    {
        var (info, rowStart, rows) = Get(name);
        if (info.Type is not (GgmlType.Q4_1 or GgmlType.Q5_1)) return null;
        int blockBytes = GgmlTypeInfo.BlockBytes(info.Type);
        long perRow = info.ElementCount / info.TorchShape[0] / GgmlTypeInfo.BlockSize(info.Type);
        var raw = _file.RawBytes(info);
        var mins = new float[rows * perRow];
        for (long i = 0; i < mins.Length; i++)
            mins[i] = (float)BitConverter.ToHalf(raw.Slice(checked((int)((rowStart * perRow + i) * blockBytes + 2)), 2));
        return mins;
    }

    public void ReadFloats(string name, Span<float> destination)
    {
        var (info, rowStart, rows) = Get(name);
        if (rows == info.TorchShape[0]) { _file.ReadFloats(info, destination); return; }
        // A slice of a fused tensor: dequantise the whole once, copy the rows (GPT-2 attn_qkv is small enough).
        var all = _file.ReadFloats(info);
        long rowLen = info.ElementCount / info.TorchShape[0];
        all.AsSpan(checked((int)(rowStart * rowLen)), checked((int)(rows * rowLen))).CopyTo(destination);
    }

    public void ReadBFloat16(string name, Span<ushort> destination)
    {
        var (info, _, rows) = Get(name);
        if (rows == info.TorchShape[0]) { _file.ReadBFloat16(info, destination); return; }
        var floats = new float[destination.Length];
        ReadFloats(name, floats);
        BFloat16.FromFloats(floats, destination, SourcePath, name);
    }

    private (GgufTensorInfo, long, long) Get(string name) =>
        _map.TryGetValue(name, out var e) ? e : throw new InvalidModelFileException(_file.Path, $"tensor '{name}' is missing");

    public void Dispose() => _file.Dispose();
}
