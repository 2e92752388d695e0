using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.KvCache;

/// <summary>
/// A head-wise KV cache: per layer and KV head, only the positions that head's policy keeps (no padding to the longest
/// head). Keys are stored after RoPE with their original positions, so eviction never re-rotates. Each step appends the
/// new keys and values, attends (causal within a prefill chunk, everything kept before it), then lets the policy evict:
/// after every prefill chunk (compacting to exact size) and after every decode step.
/// </summary>
public sealed class HeadWiseCache : IKvCache
{
    private readonly ModelSpec _spec;
    private readonly HeadStore[][] _heads;
    private readonly double _scale;

    public HeadWiseCache(ModelSpec spec, KvPolicy policy)
    {
        if (!spec.Causal) throw new HeadWiseException($"{spec.Architecture} is an encoder: KV caches are for decoders");
        _spec = spec;
        Policy = policy;
        _scale = 1.0 / Math.Sqrt(spec.HeadDim);
        bool cumulative = policy.Needs.HasFlag(KvStats.Cumulative);
        _heads = Enumerable.Range(0, spec.Layers)
            .Select(_ => Enumerable.Range(0, spec.KvHeads).Select(_ => new HeadStore(spec.HeadDim, cumulative)).ToArray()).ToArray();
    }

    public KvPolicy Policy { get; }

    public long Length { get; private set; }

    /// <summary>Bytes of the kept keys and values: sum over layers and KV heads of kept positions x head size x 2 x element size.</summary>
    public long Bytes => _heads.Sum(l => l.Sum(h => (long)h.Count * _spec.HeadDim * 2 * h.ElementSize));

    /// <summary>
    /// Bytes the K and V tensors hold, spare rows included: equal to <see cref="Bytes"/> after a prefill chunk or
    /// <see cref="Compact"/>; decoding keeps a few spare rows per head so appends do not reallocate every step.
    /// </summary>
    public long AllocatedBytes => _heads.Sum(l => l.Sum(h => h.AllocatedBytes));

    /// <summary>Positions kept by (layer, KV head), ascending.</summary>
    public long[] KeptPositions(int layer, int kvHead)
    {
        var h = _heads[layer][kvHead];
        var p = h.Positions.AsSpan(0, h.Count).ToArray();
        Array.Sort(p);
        return p;
    }

    /// <summary>Number of positions (layer, KV head) keeps.</summary>
    public int Kept(int layer, int kvHead) => _heads[layer][kvHead].Count;

    /// <summary>Drops spare rows so that <see cref="AllocatedBytes"/> equals <see cref="Bytes"/>.</summary>
    public void Compact()
    {
        foreach (var l in _heads)
            foreach (var h in l)
                if (h.Capacity != h.Count) h.Resize(h.Count);
    }

    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v)
    {
        if (q.shape[0] != 1) throw new HeadWiseException("the head-wise KV cache holds one sequence (batch size 1)");
        int t = (int)q.shape[2], g = _spec.GroupSize, d = _spec.HeadDim;
        var heads = _heads[layer];
        var needs = Policy.Needs;
        int window = needs.HasFlag(KvStats.Window) ? Math.Min(Math.Max(1, Policy.Window), t) : 0;
        var windowStats = new double[heads.Length][];
        var parts = new Tensor[heads.Length];
        Tensor q0 = q[0], k0 = k[0], v0 = v[0];
        for (int h = 0; h < heads.Length; h++)
        {
            var store = heads[h];
            store.Append(k0[h], v0[h], Length);
            var qh = q0.narrow(0, h * g, g); // [g, T, d]
            var kh = store.K;
            var vh = store.V;
            Tensor? mask = t > 1 && store.Count > t ? Mask(store, t) : null; // first chunk: plain causal
            if (needs == KvStats.None)
            {
                parts[h] = Fused(qh, kh, vh, t, g, d, mask);
                continue;
            }
            // Policies that read attention: the explicit softmax, whose weights become the statistics.
            var scores = torch.matmul(qh, kh.t()).mul_(_scale); // [g, T, n]
            if (t > 1) scores = scores.masked_fill((mask ?? Mask(store, t)).logical_not(), float.NegativeInfinity);
            var w = F.softmax(scores, -1);
            parts[h] = torch.matmul(w, vh);
            if (store.Cumulative is not null) store.Accumulate(w.sum([0, 1]).data<float>().ToArray());
            if (window > 0)
                windowStats[h] = w.narrow(1, t - window, window).sum([0, 1]).to(ScalarType.Float64).data<double>().ToArray();
        }
        var z = torch.cat(parts, 0).unsqueeze(0); // [1, H, T, d]
        Compress(layer, t, windowStats);
        return z;
    }

    /// <summary>The fused kernel, called per KV head exactly as the model calls it for all heads (so `full` is bit-identical).</summary>
    private static Tensor Fused(Tensor qh, Tensor kh, Tensor vh, int t, int g, int d, Tensor? mask)
    {
        long n = kh.shape[0];
        if (t == 1)
            return F.scaled_dot_product_attention(qh.reshape(1, 1, g, d), kh.view(1, 1, n, d), vh.view(1, 1, n, d)).reshape(g, 1, d);
        var ke = kh.unsqueeze(0).expand(g, n, d).unsqueeze(0);
        var ve = vh.unsqueeze(0).expand(g, n, d).unsqueeze(0);
        var z = mask is null
            ? F.scaled_dot_product_attention(qh.unsqueeze(0), ke, ve, is_casual: true)
            : F.scaled_dot_product_attention(qh.unsqueeze(0), ke, ve, mask);
        return z.squeeze(0);
    }

    /// <summary>True where query i (position Length+i) may attend slot j: every kept earlier position, causal within the chunk.</summary>
    private Tensor Mask(HeadStore store, int t)
    {
        var kp = torch.tensor(store.Positions.AsSpan(0, store.Count).ToArray()).unsqueeze(0);
        var qp = torch.arange(Length, Length + t, dtype: ScalarType.Int64).unsqueeze(1);
        return kp.le(qp);
    }

    private void Compress(int layer, int t, double[][] windowStats)
    {
        var heads = _heads[layer];
        var view = new LayerView
        {
            Layer = layer, Length = Length + t, Step = t,
            Heads = heads.Select((s, h) => new HeadView
            {
                Layer = layer, Head = h, Count = s.Count, Positions = s.Positions, Cumulative = s.Cumulative, Window = windowStats[h],
            }).ToArray(),
        };
        var evictions = Policy.Evictions(view);
        for (int h = 0; h < heads.Length; h++)
        {
            if (evictions[h] is { Length: > 0 } ev) heads[h].Evict(ev, compact: t > 1);
            else if (t > 1 && heads[h].Capacity != heads[h].Count) heads[h].Resize(heads[h].Count);
        }
    }

    public void Advance(long t) => Length += t;

    public void Dispose()
    {
        foreach (var l in _heads)
            foreach (var h in l) h.Dispose();
    }
}
