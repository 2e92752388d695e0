using HeadWise.KvCache.Policies;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.KvCache;

/// <summary>
/// StreamingLLM with its paper's position rule (Xiao et al. 2023, section 3.2: positions within the cache, not in the
/// original text): per layer one rolling store, the same for every head, of the first <see cref="StreamingPolicy.Sinks"/>
/// tokens and the most recent ones. Keys are kept unrotated (as at position 0); each call places the kept tokens at
/// positions 0..C-1 and the new ones after them, so no query sits past the window and a rotary model runs past its
/// trained length. A call's queries are attended in blocks that fit the window (C + block &lt;= context), rolling after
/// each block; one token a call is the paper's exact rule (each token sees the sinks, the last capacity - sinks tokens and
/// itself), a longer block lets its tokens see each other too.
/// </summary>
public sealed class StreamingKvCache : IKvCache
{
    private readonly ModelSpec _spec;
    private readonly Tensor?[] _k, _v;  // per layer [1, KvH, C, d]: keys unrotated (float32), values

    public StreamingKvCache(StreamingPolicy policy)
    {
        if (policy.Spec.Positions != PositionKind.Rope)
            throw new HeadWiseException("streaming: positions=cache moves keys to their places in the cache by rotating them; this model's positions are learned, not rotary (use positions=original)");
        Policy = policy;
        _spec = policy.Spec;
        _k = new Tensor?[_spec.Layers];
        _v = new Tensor?[_spec.Layers];
    }

    public StreamingPolicy Policy { get; }

    public long Length { get; private set; }

    public long Bytes => Enumerable.Range(0, _spec.Layers).Sum(LayerBytes);

    public long PeakBytes { get; private set; }

    public long MaxLength => Policy.MaxLength;

    /// <summary>Tokens a layer keeps at a sequence of <paramref name="length"/>: the budget's, at most context - 1 (the next query needs a place in the window).</summary>
    private long Capacity(int layer, long length) => Math.Min(Policy.Capacity(layer, 0, length), _spec.ContextLength - 1);

    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
    {
        if (attention.HooksReadScores(layer))
        {
            var names = Heads.HookNames.ForLayer(layer);
            throw new HeadWiseException($"{names.Scores} and {names.Pattern} are not computed under streaming with positions=cache (it attends in blocks " +
                                        "that fit the window); use positions=original or the full cache to read or edit them");
        }
        var rope = attention.Rope!;
        long start = attention.Start, t = q.shape[2];
        long capacity = Capacity(layer, start + t);
        using var back = torch.arange(start, start + t, dtype: ScalarType.Int64).neg();
        var raw = rope.Apply(Float(k), back);
        var outputs = new List<Tensor>();
        for (long i = 0; i < t;)
        {
            long kept = _k[layer]?.shape[2] ?? 0;
            long block = Math.Min(t - i, _spec.ContextLength - kept);
            var keys = Append(_k[layer], raw.narrow(2, i, block));
            var values = Append(_v[layer], v.narrow(2, i, block));
            // Kept tokens at 0..kept-1, this block's at kept..: every query moves from start + i + j to kept + j.
            var placedKeys = rope.Apply(keys, 0).to(k.dtype);
            using var shift = torch.full([block], kept - (start + i), dtype: ScalarType.Int64);
            var placedQueries = rope.Apply(Float(q.narrow(2, i, block)), shift).to(q.dtype);
            outputs.Add(attention.Attend(layer, placedQueries, placedKeys, values));
            PeakBytes = Math.Max(PeakBytes, Bytes - LayerBytes(layer) + Size(keys) + Size(values));
            Keep(layer, keys, values, capacity);
            i += block;
        }
        return outputs.Count == 1 ? outputs[0] : torch.cat(outputs.ToArray(), 2);
    }

    /// <summary>Keeps the first min(sinks, capacity) rows and the most recent rest, up to <paramref name="capacity"/>.</summary>
    private void Keep(int layer, Tensor keys, Tensor values, long capacity)
    {
        long n = keys.shape[2];
        if (n > capacity)
        {
            long sinks = Math.Min(Policy.Sinks, capacity);
            using var rows = torch.cat([torch.arange(0, sinks, dtype: ScalarType.Int64), torch.arange(n - (capacity - sinks), n, dtype: ScalarType.Int64)]);
            keys = keys.index_select(2, rows);
            values = values.index_select(2, rows);
        }
        _k[layer]?.Dispose();
        _v[layer]?.Dispose();
        // Made inside the forward pass's dispose scope: they outlive it.
        _k[layer] = keys.contiguous().DetachFromDisposeScope();
        _v[layer] = values.contiguous().DetachFromDisposeScope();
    }

    private static Tensor Append(Tensor? kept, Tensor rows) => kept is null ? rows : torch.cat([kept, rows], 2);

    private long LayerBytes(int layer) => (_k[layer] is { } k ? Size(k) : 0) + (_v[layer] is { } v ? Size(v) : 0);

    private static long Size(Tensor x) => x.numel() * x.ElementSize;

    private static Tensor Float(Tensor x) => x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);

    public void Advance(long t) => Length += t;

    /// <summary>Nothing to do: the cache rolls from the first token (the paper's streaming), whatever the protocol.</summary>
    public void Compress() { }

    public void Dispose()
    {
        foreach (var x in _k) x?.Dispose();
        foreach (var x in _v) x?.Dispose();
    }
}
