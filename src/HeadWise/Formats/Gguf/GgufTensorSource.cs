using HeadWise.Models;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// A GGUF file's tensors under the canonical names. GGUF already uses them, except GPT-2's fused
/// blk.N.attn_qkv, which is presented as separate attn_q/attn_k/attn_v row blocks.
/// </summary>
public sealed class GgufTensorSource : ITensorSource
{
    private readonly GgufFile _file;
    private readonly Dictionary<string, (GgufTensorInfo Info, long RowStart, long Rows)> _map = new();

    public GgufTensorSource(GgufFile file, ModelSpec spec)
    {
        _file = file;
        foreach (var t in file.Tensors)
        {
            // Every type is checked before any tensor byte is read: a file HeadWise cannot read fails at once, naming it.
            if (!GgmlTypeInfo.CanDequantize(t.Type)) throw file.UnreadableType(t);
            var shape = t.TorchShape;
            if (t.Name.EndsWith(".attn_qkv.weight") || t.Name.EndsWith(".attn_qkv.bias"))
            {
                string prefix = t.Name[..t.Name.IndexOf(".attn_qkv", StringComparison.Ordinal)], suffix = t.Name[(t.Name.LastIndexOf('.'))..];
                long q = spec.QDim, kv = spec.KvDim;
                if (shape[0] != q + 2 * kv)
                    throw new InvalidModelFileException(file.Path, $"tensor '{t.Name}' has {shape[0]} rows, expected {q + 2 * kv} (q + k + v)");
                _map[$"{prefix}.attn_q{suffix}"] = (t, 0, q);
                _map[$"{prefix}.attn_k{suffix}"] = (t, q, kv);
                _map[$"{prefix}.attn_v{suffix}"] = (t, q + kv, kv);
            }
            else _map[t.Name] = (t, 0, shape[0]);
        }
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
