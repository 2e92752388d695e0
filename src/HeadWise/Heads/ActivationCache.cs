using static TorchSharp.torch;

namespace HeadWise.Heads;

/// <summary>
/// Activations captured by <see cref="HookedRun.RunWithCache"/>, by hook point name, each in the point's own layout
/// (sliced to the heads and positions asked for). Owns its tensors: dispose it to free them.
/// </summary>
public sealed class ActivationCache : IDisposable
{
    /// <summary>An empty cache (<see cref="HookedRun.RunWithCache(Models.Transformer, Tensor, IEnumerable{CaptureSpec}, HookSet?, KvCache.IKvCache?)"/> fills one).</summary>
    public ActivationCache() { }

    private readonly Dictionary<string, Tensor> _tensors = [];

    /// <summary>The activation captured at hook point <paramref name="name"/> (throws naming what was captured when it was not).</summary>
    public Tensor this[string name] => _tensors.TryGetValue(name, out var t) ? t
        : throw new HeadWiseException($"'{name}' was not captured; captured: {string.Join(", ", _tensors.Keys)}");

    /// <summary>True when <paramref name="name"/> was captured.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);
    /// <summary>The captured hook point names.</summary>
    public IEnumerable<string> Names => _tensors.Keys;
    /// <summary>How many hook points were captured.</summary>
    public int Count => _tensors.Count;

    /// <summary>Total bytes held (what a capture costs).</summary>
    public long Bytes => _tensors.Values.Sum(t => t.numel() * t.ElementSize);

    /// <summary>
    /// Writes every captured activation to a safetensors file (float32, named by hook point, in the point's layout) that
    /// Python reads in one line: <c>safetensors.torch.load_file(path)</c> or <c>safetensors.numpy.load_file(path)</c>.
    /// <paramref name="metadata"/> goes in the file's <c>__metadata__</c> (strings only).
    /// </summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (_tensors.Count == 0) throw new HeadWiseException("nothing was captured to save");
        var entries = _tensors.Select(kv =>
        {
            var data = kv.Value.detach().to(ScalarType.Float32).contiguous().data<float>().ToArray();
            return (kv.Key, kv.Value.shape, "F32", (ReadOnlyMemory<float>)data);
        }).ToList();
        Formats.Safetensors.SafetensorsWriter.Write(path, entries, metadata);
    }

    internal void Store(string name, Tensor copy)
    {
        if (_tensors.Remove(name, out var old)) old.Dispose();
        _tensors[name] = copy;
    }

    /// <summary>Frees every captured tensor.</summary>
    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
