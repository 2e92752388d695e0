using System.Buffers;
using HeadWise.Models;

namespace HeadWise.Formats.HuggingFace;

/// <summary>
/// Canonical names over a source that stores tensors under other names and layouts. Every tensor is located and
/// shape-checked when this is built, so a wrong checkpoint fails at open time naming the tensor.
/// </summary>
internal sealed class MappedTensorSource : ITensorSource
{
    private sealed record Entry(HfTensor Map, string StoredName, long[] StoredShape);

    private readonly ITensorSource _inner;
    private readonly Dictionary<string, Entry> _entries;

    private MappedTensorSource(string sourcePath, ITensorSource inner, Dictionary<string, Entry> entries)
    {
        SourcePath = sourcePath; _inner = inner; _entries = entries;
    }

    /// <param name="locate">Maps a wanted tensor's stored (prefix-free) name to the name in <paramref name="inner"/>, or null when absent.</param>
    public static MappedTensorSource Build(string sourcePath, ITensorSource inner, IEnumerable<HfTensor> wanted, Func<string, string?> locate)
    {
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var t in wanted)
        {
            var stored = locate(t.Stored) ?? (t.TiedStored is null ? null : locate(t.TiedStored));
            if (stored == null)
            {
                if (!t.Required) continue;
                throw new InvalidModelFileException(sourcePath,
                    $"tensor '{t.Canonical}' ({t.Stored}{(t.TiedStored is null ? "" : $" or, tied, {t.TiedStored}")}) is missing; expected shape [{string.Join(", ", t.Shape)}]");
            }
            var storedShape = inner.Shape(stored);
            var shape = t.CanonicalShape(storedShape);
            if (shape == null || !shape.AsSpan().SequenceEqual(t.Shape))
                throw new InvalidModelFileException(sourcePath,
                    $"tensor '{t.Canonical}' ({stored}) has the wrong shape: expected [{string.Join(", ", t.Shape)}]" +
                    $"{(t.Transform == StoredTransform.Copy ? "" : $" after {t.Transform}")}, found stored shape [{string.Join(", ", storedShape)}]");
            entries[t.Canonical] = new Entry(t, stored, storedShape);
        }
        return new MappedTensorSource(sourcePath, inner, entries);
    }

    public string SourcePath { get; }
    public IReadOnlyCollection<string> Names => _entries.Keys;
    public bool Contains(string name) => _entries.ContainsKey(name);
    public long[] Shape(string name) => (long[])Get(name).Map.Shape.Clone();

    /// <summary>The name the tensor has in the underlying file.</summary>
    public string StoredName(string name) => Get(name).StoredName;

    private Entry Get(string name) =>
        _entries.TryGetValue(name, out var e) ? e : throw new InvalidModelFileException(SourcePath, $"tensor '{name}' is not in the checkpoint");

    public void ReadFloats(string name, Span<float> destination)
    {
        var e = Get(name);
        var count = e.Map.Shape.Aggregate(1L, (a, b) => a * b);
        if (destination.Length != count)
            throw new ArgumentException($"tensor '{name}' has {count} elements but the destination holds {destination.Length}", nameof(destination));
        if (e.Map.Transform == StoredTransform.Copy) { _inner.ReadFloats(e.StoredName, destination); return; }

        var storedCount = (int)e.StoredShape.Aggregate(1L, (a, b) => a * b);
        var buffer = ArrayPool<float>.Shared.Rent(storedCount);
        try
        {
            var src = buffer.AsSpan(0, storedCount);
            _inner.ReadFloats(e.StoredName, src);
            e.Map.Apply(src, e.StoredShape, destination);
        }
        finally { ArrayPool<float>.Shared.Return(buffer); }
    }

    public void ReadBFloat16(string name, Span<ushort> destination)
    {
        var e = Get(name);
        if (e.Map.Transform == StoredTransform.Copy) { _inner.ReadBFloat16(e.StoredName, destination); return; }
        var floats = ArrayPool<float>.Shared.Rent(destination.Length);
        try
        {
            ReadFloats(name, floats.AsSpan(0, destination.Length));
            BFloat16.FromFloats(floats.AsSpan(0, destination.Length), destination, SourcePath, name);
        }
        finally { ArrayPool<float>.Shared.Return(floats); }
    }

    public void Dispose() => _inner.Dispose();
}
