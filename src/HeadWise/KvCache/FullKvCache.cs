using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>
/// The full key/value cache for incremental decoding of one sequence (the `full` policy): per layer, K and V
/// [1, kv_heads, capacity, head_dim] in the model's compute dtype, keys stored after RoPE, attended by the model's own
/// kernel (hooks see every score). Capacity grows by doubling, so short runs do not pay for the whole context. Caches
/// that keep everything but attend a selection (DELTA, LongHeads) can store through <see cref="Append"/> and attend what they choose.
/// </summary>
public sealed class FullKvCache : IKvCache
{
    private readonly ModelSpec _spec;
    private readonly Tensor?[] _k, _v;
    private long _capacity;

    // maxLength: positions it may store; the model's context unless the owner keeps what it attends within the trained
    // range itself (LongHeads stores a whole longer sequence here).
    public FullKvCache(ModelSpec spec, long initialCapacity = 256, long? maxLength = null)
    {
        _spec = spec;
        _k = new Tensor?[spec.Layers];
        _v = new Tensor?[spec.Layers];
        MaxLength = maxLength ?? spec.ContextLength;
        _capacity = Math.Max(1, Math.Min(initialCapacity, MaxLength));
    }

    /// <summary>Positions stored so far (the next token's position).</summary>
    public long Length { get; private set; }

    /// <summary>Bytes the stored positions occupy: layers x kv_heads x length x head_dim x 2 (K and V) x the compute dtype's size.</summary>
    public long Bytes => (long)_spec.Layers * _spec.KvHeads * Length * _spec.HeadDim * 2 * _spec.Compute.ElementSize();

    public long PeakBytes => Bytes;

    public long MaxLength { get; }

    /// <summary>Bytes allocated (capacity, not length).</summary>
    public long AllocatedBytes => _k.Where(t => t is not null).Sum(t => t!.numel() * 2 * t.ElementSize);

    /// <summary>Stores k, v [1, kv_heads, T, d] for <paramref name="layer"/> after the current length; returns views of all stored keys and values.</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2], end = Length + t;
        if (k.shape[0] != 1) throw new HeadWiseException("the KV cache holds one sequence (batch size 1)");
        EnsureCapacity(layer, end);
        using (var kDst = _k[layer]!.narrow(2, Length, t)) kDst.copy_(k);
        using (var vDst = _v[layer]!.narrow(2, Length, t)) vDst.copy_(v);
        return (_k[layer]!.narrow(2, 0, end), _v[layer]!.narrow(2, 0, end));
    }

    /// <summary>
    /// Decode kernels that write the next position in place: <paramref name="layer"/>'s whole K and V buffers
    /// [1, kv_heads, capacity, head_dim], with room for <paramref name="t"/> positions after the current length.
    /// </summary>
    internal (Tensor K, Tensor V) Reserve(int layer, long t)
    {
        EnsureCapacity(layer, Length + t);
        return (_k[layer]!, _v[layer]!);
    }

    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
    {
        var (keys, values) = Append(layer, k, v);
        return attention.Attend(layer, q, keys, values);
    }

    /// <summary>Called once per forward, after every layer appended <paramref name="t"/> positions.</summary>
    public void Advance(long t) => Length += t;

    public void Compress() { }

    /// <summary>Forgets everything after <paramref name="length"/> positions (rewinding to a shared prefix).</summary>
    public void Truncate(long length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
    }

    private void EnsureCapacity(int layer, long needed)
    {
        if (needed > MaxLength)
            throw new HeadWiseException($"context of {needed} tokens exceeds the model's limit of {MaxLength}");
        if (_k[layer] is not null && needed <= _k[layer]!.shape[2]) return;
        while (_capacity < needed) _capacity = Math.Min(_capacity * 2, MaxLength);
        _k[layer] = Grow(_k[layer], _capacity);
        _v[layer] = Grow(_v[layer], _capacity);
    }

    private Tensor Grow(Tensor? old, long capacity)
    {
        var t = torch.zeros(1, _spec.KvHeads, capacity, _spec.HeadDim, dtype: _spec.Compute.ScalarType()).DetachFromDisposeScope();
        if (old is not null)
        {
            using (var dst = t.narrow(2, 0, Length)) using (var src = old.narrow(2, 0, Length)) dst.copy_(src);
            old.Dispose();
        }
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _k) t?.Dispose();
        foreach (var t in _v) t?.Dispose();
    }
}
