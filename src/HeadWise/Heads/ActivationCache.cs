using static TorchSharp.torch;

namespace HeadWise.Heads;

/// <summary>
/// Activations captured by <see cref="HookedRun.RunWithCache"/>, by hook point name, each in the point's own layout
/// (sliced to the heads and positions asked for). Owns its tensors: dispose it to free them.
/// </summary>
public sealed class ActivationCache : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors = [];

    public Tensor this[string name] => _tensors.TryGetValue(name, out var t) ? t
        : throw new HeadWiseException($"'{name}' was not captured; captured: {string.Join(", ", _tensors.Keys)}");

    public bool Contains(string name) => _tensors.ContainsKey(name);
    public IEnumerable<string> Names => _tensors.Keys;
    public int Count => _tensors.Count;

    /// <summary>Total bytes held (what a capture costs).</summary>
    public long Bytes => _tensors.Values.Sum(t => t.numel() * t.ElementSize);

    internal void Store(string name, Tensor copy)
    {
        if (_tensors.Remove(name, out var old)) old.Dispose();
        _tensors[name] = copy;
    }

    public void Dispose()
    {
        foreach (var t in _tensors.Values) t.Dispose();
        _tensors.Clear();
    }
}
