using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.KvCache;

/// <summary>
/// A head-wise KV cache: per layer and KV head, only the positions that head's policy keeps (no padding to the longest
/// head). Keys are stored after RoPE with their original positions, so eviction never re-rotates.
/// When it compresses (<see cref="CompressMode"/>):
/// - <see cref="CompressMode.Chunked"/>: after every prefill chunk (compacting to exact size) and every decode step.
/// - <see cref="CompressMode.Context"/> / <see cref="CompressMode.Question"/>: the prompt goes in uncompressed
///   (gathering only the statistics the policy reads: accumulated attention, the observation window's queries) until
///   <see cref="Compress"/>, which evicts once at a capacity fixed from then on. Afterwards a policy whose paper evicts
///   while decoding (<see cref="KvPolicy.EvictsWhileDecoding"/>) evicts every step; any other only appends, and decoding
///   attends the kept cache with the fused kernel, computing no statistics.
/// Decode is the hot path: heads that keep equally many positions share one [G, capacity, d] tensor and attend in one
/// call; an evicted slot is refilled by the next step's row (no shifting, no reallocation).
/// </summary>
public sealed class HeadWiseKvCache : IKvCache
{
    private readonly ModelSpec _spec;
    private readonly LayerStore[] _layers;
    private readonly Scalar _scale;   // held, not a temporary per call: see HeldScalars
    private readonly double[][]? _magnitudes;   // per layer and KV head, SpAtten's accumulated output magnitude
    private readonly Tensor?[] _lastQueries;    // per layer, the last queries [H, <= window, d] before a one-shot compression
    private long? _compressedAt;

    public HeadWiseKvCache(ModelSpec spec, KvPolicy policy, CompressMode mode)
    {
        if (!spec.Causal) throw new HeadWiseException($"{spec.Architecture} is an encoder: KV caches are for decoders");
        _spec = spec;
        Policy = policy;
        Mode = mode;
        _scale = (1.0 / Math.Sqrt(spec.HeadDim)).ToScalar();
        bool cumulative = policy.Needs.HasFlag(KvStats.Cumulative);
        _layers = Enumerable.Range(0, spec.Layers).Select(_ => new LayerStore(spec.KvHeads, spec.HeadDim, cumulative, spec.Compute.ScalarType())).ToArray();
        _magnitudes = policy.Needs.HasFlag(KvStats.HeadOutput) ? Enumerable.Range(0, spec.Layers).Select(_ => new double[spec.KvHeads]).ToArray() : null;
        _lastQueries = new Tensor?[spec.Layers];
    }

    public KvPolicy Policy { get; }
    public CompressMode Mode { get; }

    public long Length { get; private set; }

    /// <summary>Bytes of the kept keys and values: sum over layers and KV heads of kept positions x head size x 2 x the compute dtype's size.</summary>
    public long Bytes => _layers.Sum(l => l.Heads.Sum(h => (long)h.Count)) * _spec.HeadDim * 2 * _spec.Compute.ElementSize();

    public long PeakBytes { get; private set; }

    public long MaxLength => _spec.ContextLength;

    /// <summary>
    /// Bytes the K and V tensors hold, spare rows included: equal to <see cref="Bytes"/> after a prefill chunk or
    /// <see cref="Compact"/>; decoding keeps a few spare rows per head so appends do not reallocate every step.
    /// </summary>
    public long AllocatedBytes => _layers.Sum(l => l.AllocatedBytes);

    /// <summary>One-shot modes before <see cref="Compress"/>: everything is kept and only statistics are gathered.</summary>
    private bool Collecting => Mode != CompressMode.Chunked && _compressedAt is null;

    /// <summary>Whether this step lets the policy evict: always when chunked; after a one-shot compression only if its paper evicts while decoding.</summary>
    private bool Evicting => Mode == CompressMode.Chunked || (_compressedAt is not null && Policy.EvictsWhileDecoding);

    /// <summary>
    /// The length a budget resolves against: the sequence so far when chunked or before compressing; after a one-shot
    /// compression, the compression point for a ratio budget (a fraction of the tokens then), and still the sequence so
    /// far for a token count (a policy that evicts while decoding keeps that many, however short the context was). A
    /// budget mixing ratios and counts over layers resolves against the compression point.
    /// </summary>
    private long BudgetLength(long length) => _compressedAt is { } at && Policy.Budget.HasRatio ? at : length;

    /// <summary>The statistics this step computes: all the policy reads when evicting; before compression only those that accumulate; none otherwise.</summary>
    private KvStats StepNeeds => Evicting ? Policy.Needs : Collecting ? Policy.Needs & (KvStats.Cumulative | KvStats.HeadOutput) : KvStats.None;

    /// <summary>Positions kept by (layer, KV head), ascending.</summary>
    public long[] KeptPositions(int layer, int kvHead)
    {
        var h = _layers[layer].Heads[kvHead];
        var p = h.KeptSlots().Select(i => h.Positions[i]).ToArray();
        Array.Sort(p);
        return p;
    }

    /// <summary>Copies of the keys and values (layer, KV head) keeps, [kept, d] each, rows in position order.</summary>
    public (Tensor K, Tensor V) KeptRows(int layer, int kvHead)
    {
        var h = _layers[layer].Heads[kvHead];
        var slots = h.KeptSlots().OrderBy(i => h.Positions[i]).Select(i => (long)i).ToArray();
        var (k, v) = _layers[layer].Rows(kvHead);
        using var idx = torch.tensor(slots);
        return (k.index_select(0, idx), v.index_select(0, idx));
    }

    /// <summary>Number of positions (layer, KV head) keeps.</summary>
    public int Kept(int layer, int kvHead) => _layers[layer].Heads[kvHead].Count;

    /// <summary>Drops spare rows so that <see cref="AllocatedBytes"/> equals <see cref="Bytes"/>.</summary>
    public void Compact()
    {
        foreach (var l in _layers) l.Compact();
    }

    Tensor IKvCache.Attend(int layer, Tensor q, Tensor k, Tensor v, AttentionKernel attention)
    {
        if (attention.HooksReadScores(layer))
        {
            var names = Heads.HookNames.ForLayer(layer);
            throw new HeadWiseException($"{names.Scores} and {names.Pattern} are not computed under a compressing KV cache policy " +
                                        "(it attends over each head's kept positions in its own kernel); use the full cache to read or edit them");
        }
        return Attend(layer, q, k, v);
    }

    /// <summary>
    /// Stores k, v [1, KvH, T, d] for <paramref name="layer"/>, attends q [1, H, T, d] over what each KV head kept
    /// (its own kernel: heads keep different positions) and, when <see cref="Evicting"/>, lets the policy evict.
    /// </summary>
    public Tensor Attend(int layer, Tensor q, Tensor k, Tensor v)
    {
        if (q.shape[0] != 1) throw new HeadWiseException("the head-wise KV cache holds one sequence (batch size 1)");
        if (Collecting) KeepLastQueries(layer, q[0]);
        return q.shape[2] == 1 && !Collecting ? AttendStep(layer, q, k, v) : AttendChunk(layer, q, k, v);
    }

    /// <summary>
    /// The compression point of a one-shot mode: per layer, the policy sees every position with the statistics gathered
    /// so far (the observation window's attention computed now from the stored last queries) and evicts once.
    /// </summary>
    public void Compress()
    {
        if (Mode == CompressMode.Chunked || _compressedAt is not null) return;
        using var scope = torch.NewDisposeScope();
        var needs = Policy.Needs;
        int kvh = _spec.KvHeads, g = _spec.GroupSize;
        for (int l = 0; l < _layers.Length; l++)
        {
            var store = _layers[l];
            var window = new double[kvh][];
            var keys = new float[kvh][];
            var queries = new float[kvh][];
            var last = _lastQueries[l];
            for (int h = 0; h < kvh && last is not null; h++)
            {
                var (kh, _) = store.Rows(h);
                var qh = last.narrow(0, h * g, g); // [g, W, d]
                if (needs.HasFlag(KvStats.Window))
                {
                    int w = (int)Math.Min(Math.Max(1, Policy.Window), qh.shape[1]);
                    var qw = qh.narrow(1, qh.shape[1] - w, w);
                    var scores = torch.matmul(qw.to(ScalarType.Float32), kh.to(ScalarType.Float32).t()).mul_(_scale); // [g, w, n], float32
                    var kp = torch.tensor(store.Heads[h].Positions.AsSpan(0, store.Heads[h].Used).ToArray()).unsqueeze(0);
                    var qp = torch.arange(Length - w, Length, dtype: ScalarType.Int64).unsqueeze(1);
                    scores = scores.masked_fill(kp.le(qp).logical_not(), HeldScalars.NegativeInfinity);
                    window[h] = F.softmax(scores, -1).sum([0, 1]).to(ScalarType.Float64).data<double>().ToArray();
                }
                if (needs.HasFlag(KvStats.Keys))
                {
                    keys[h] = kh.to(ScalarType.Float32).contiguous().data<float>().ToArray();
                    queries[h] = qh.select(1, qh.shape[1] - 1).to(ScalarType.Float32).mean([0]).data<float>().ToArray();
                }
            }
            var evictions = Policy.Evictions(View(l, 0, (int)Length, window, keys, queries));
            Merge(store, evictions);
            store.Regroup(evictions);
            _lastQueries[l]?.Dispose();
            _lastQueries[l] = null;
        }
        _compressedAt = Length;
    }

    /// <summary>Before a one-shot compression: the last queries (as many as the policy's window, one for key-reading policies) for <see cref="Compress"/>.</summary>
    private void KeepLastQueries(int layer, Tensor q)
    {
        int keep = Policy.Needs.HasFlag(KvStats.Window) ? Math.Max(1, Policy.Window) : Policy.Needs.HasFlag(KvStats.Keys) ? 1 : 0;
        if (keep == 0) return;
        var all = _lastQueries[layer] is { } old ? torch.cat([old, q], 1) : q;
        var kept = all.narrow(1, Math.Max(0, all.shape[1] - keep), Math.Min(keep, all.shape[1])).clone().DetachFromDisposeScope();
        _lastQueries[layer]?.Dispose();
        _lastQueries[layer] = kept;
    }

    /// <summary>
    /// One decode step: per group of equally long heads, write the new row, attend all the group's heads in one call
    /// (the fused kernel exactly as the model calls it, or one explicit softmax whose weights are the statistics), evict.
    /// </summary>
    private Tensor AttendStep(int layer, Tensor q, Tensor k, Tensor v)
    {
        int kvh = _spec.KvHeads, g = _spec.GroupSize, d = _spec.HeadDim;
        var store = _layers[layer];
        var needs = StepNeeds;
        bool evicting = Evicting;
        var qg = q.reshape(kvh, g, d);
        Tensor k0 = k[0], v0 = v[0]; // [KvH, 1, d]
        var stats = needs == KvStats.None ? null : new double[kvh][];
        var keys = needs.HasFlag(KvStats.Keys) ? new float[kvh][] : null;
        var queries = needs.HasFlag(KvStats.Keys) ? new float[kvh][] : null;
        bool single = store.Groups.Count == 1;
        var z = single ? null : torch.empty(kvh, g, d, dtype: q.dtype);
        foreach (var gr in store.Groups)
        {
            bool all = gr.IsAll(kvh);
            store.AppendStep(gr, all ? k0 : k0.index_select(0, gr.Index), all ? v0 : v0.index_select(0, gr.Index), Length);
            var qs = all ? qg : qg.index_select(0, gr.Index);
            int n = store.Heads[gr.Heads[0]].Used;
            var kn = gr.K.narrow(1, 0, n);
            var vn = gr.V.narrow(1, 0, n);
            Tensor o;
            if ((needs & ~KvStats.Keys) == KvStats.None)
                o = AttentionKernel.OneQuery(qs.reshape(1, -1, 1, d), kn.unsqueeze(0), vn.unsqueeze(0)).reshape(qs.shape);
            else
            {
                var w = F.softmax(torch.matmul(qs, kn.transpose(1, 2)).mul_(_scale), -1); // [G, g, n]
                o = torch.matmul(w, vn);
                // One transfer of the attention each slot received (summed over the query group) serves both statistics.
                var sums = w.sum(1).to(ScalarType.Float64).data<double>().ToArray();
                for (int i = 0; i < gr.Heads.Length; i++) stats![gr.Heads[i]] = sums[(i * n)..((i + 1) * n)];
            }
            if (single) z = o;
            else z!.index_copy_(0, gr.Index, o);
            if (keys is not null)
                for (int i = 0; i < gr.Heads.Length; i++)
                {
                    keys[gr.Heads[i]] = kn[i].to(ScalarType.Float32).contiguous().data<float>().ToArray();
                    queries![gr.Heads[i]] = qs[i].to(ScalarType.Float32).mean([0]).data<float>().ToArray();
                }
        }
        if (needs.HasFlag(KvStats.Cumulative))
            for (int h = 0; h < kvh; h++)
            {
                var c = store.Heads[h].Cumulative!;
                var s = stats![h];
                for (int i = 0; i < s.Length; i++) c[i] += s[i];
            }
        SilencePruned(layer, z!);
        if (needs.HasFlag(KvStats.HeadOutput)) AddMagnitudes(layer, z!.reshape(kvh, -1));
        if (evicting)
        {
            // When decoding, the observation window is the current query.
            var evictions = Policy.Evictions(View(layer, 1, 1, needs.HasFlag(KvStats.Window) ? stats : null, keys, queries));
            Merge(store, evictions);
            store.EvictStep(evictions);
        }
        return z!.reshape(1, _spec.Heads, 1, d);
    }

    /// <summary>A prefill chunk: per KV head (masks differ), causal within the chunk, then (when <see cref="Evicting"/>) evict and compact.</summary>
    private Tensor AttendChunk(int layer, Tensor q, Tensor k, Tensor v)
    {
        int t = (int)q.shape[2], g = _spec.GroupSize, d = _spec.HeadDim;
        var store = _layers[layer];
        var needs = StepNeeds;
        bool evicting = Evicting;
        int window = needs.HasFlag(KvStats.Window) ? Math.Min(Math.Max(1, Policy.Window), t) : 0;
        var windowStats = new double[store.Heads.Length][];
        var parts = new Tensor[store.Heads.Length];
        var keys = new float[store.Heads.Length][];
        var queries = new float[store.Heads.Length][];
        Tensor q0 = q[0];
        store.CloseHoles();
        store.AppendChunk(k[0], v[0], Length);
        for (int h = 0; h < parts.Length; h++)
        {
            var slots = store.Heads[h];
            var qh = q0.narrow(0, h * g, g); // [g, T, d]
            var (kh, vh) = store.Rows(h);
            Tensor? mask = slots.Used > t ? Mask(slots, t) : null; // first chunk: plain causal
            if (needs.HasFlag(KvStats.Keys))
            {
                keys[h] = kh.to(ScalarType.Float32).contiguous().data<float>().ToArray();
                queries[h] = qh.select(1, t - 1).to(ScalarType.Float32).mean([0]).data<float>().ToArray();
            }
            if ((needs & ~KvStats.Keys) == KvStats.None)
            {
                parts[h] = Fused(qh, kh, vh, t, g, d, mask);
                continue;
            }
            // Policies that read attention: the explicit softmax, whose weights become the statistics.
            var scores = torch.matmul(qh, kh.t()).mul_(_scale); // [g, T, n]
            scores = scores.masked_fill((mask ?? Mask(slots, t)).logical_not(), HeldScalars.NegativeInfinity);
            var w = F.softmax(scores, -1);
            parts[h] = torch.matmul(w, vh);
            if (needs.HasFlag(KvStats.Cumulative))
            {
                var a = w.sum([0, 1]).to(ScalarType.Float32).data<float>().ToArray();
                for (int i = 0; i < slots.Used; i++) slots.Cumulative![i] += a[i];
            }
            if (window > 0)
                windowStats[h] = w.narrow(1, t - window, window).sum([0, 1]).to(ScalarType.Float64).data<double>().ToArray();
        }
        var z = torch.cat(parts, 0); // [H, T, d]
        SilencePruned(layer, z.unflatten(0, [store.Heads.Length, g]));
        if (needs.HasFlag(KvStats.HeadOutput)) AddMagnitudes(layer, z.reshape(store.Heads.Length, -1));
        z = z.unsqueeze(0); // [1, H, T, d]
        if (!evicting) return z;
        var evictions = Policy.Evictions(View(layer, t, t, windowStats, keys, queries));
        Merge(store, evictions);
        store.Regroup(evictions);
        return z;
    }

    /// <summary>Zeroes, in place, the outputs of the KV heads the policy pruned; dim 0 of <paramref name="byKvHead"/> is the KV head.</summary>
    private void SilencePruned(int layer, Tensor byKvHead)
    {
        var heads = Enumerable.Range(0, _spec.KvHeads).Where(h => Policy.IsPruned(layer, h)).Select(h => (long)h).ToArray();
        if (heads.Length == 0) return;
        using var index = torch.tensor(heads);
        byKvHead.index_fill_(0, index, HeldScalars.Zero);
    }

    /// <summary>Adds each KV head's mean |output| (rows [KvH, ...]: its query group and queries flattened) to its running sum.</summary>
    private void AddMagnitudes(int layer, Tensor perKvHead)
    {
        var m = perKvHead.abs().mean([1]).to(ScalarType.Float64).data<double>().ToArray();
        for (int h = 0; h < m.Length; h++) _magnitudes![layer][h] += m[h];
    }

    private void Merge(LayerStore store, int[]?[] evictions)
    {
        if (!Policy.MergesEvicted) return;
        for (int h = 0; h < evictions.Length; h++)
            if (evictions[h] is { Length: > 0 } ev) store.MergeEvicted(h, ev);
    }

    /// <summary>The fused kernel per KV head, called exactly as the model calls it (so `full` is bit-identical).</summary>
    private static Tensor Fused(Tensor qh, Tensor kh, Tensor vh, int t, int g, int d, Tensor? mask)
    {
        long n = kh.shape[0];
        var ke = kh.unsqueeze(0).expand(g, n, d).unsqueeze(0);
        var ve = vh.unsqueeze(0).expand(g, n, d).unsqueeze(0);
        var z = mask is null
            ? F.scaled_dot_product_attention(qh.unsqueeze(0), ke, ve, is_casual: true)
            : F.scaled_dot_product_attention(qh.unsqueeze(0), ke, ve, mask);
        return z.squeeze(0);
    }

    /// <summary>True where query i (position Length+i) may attend slot j: every kept earlier position, causal within the chunk.</summary>
    private Tensor Mask(HeadSlots slots, int t)
    {
        var kp = torch.tensor(slots.Positions.AsSpan(0, slots.Used).ToArray()).unsqueeze(0);
        var qp = torch.arange(Length, Length + t, dtype: ScalarType.Int64).unsqueeze(1);
        return kp.le(qp);
    }

    /// <summary>What the policy sees of <paramref name="layer"/> after <paramref name="t"/> new tokens (<paramref name="step"/> added by this call).</summary>
    private LayerView View(int layer, int t, int step, double[]?[]? window, float[]?[]? keys, float[]?[]? queries) => new()
    {
        Layer = layer, Length = Length + t, BudgetLength = BudgetLength(Length + t), Step = step,
        Heads = _layers[layer].Heads.Select((s, h) => new HeadView
        {
            Layer = layer, Head = h, Count = s.Used, Positions = s.Positions, Cumulative = s.Cumulative, Window = window?[h],
            Keys = keys?[h], Query = queries?[h], OutputMagnitude = _magnitudes?[layer][h],
        }).ToArray(),
    };

    public void Advance(long t)
    {
        Length += t;
        PeakBytes = Math.Max(PeakBytes, Bytes);
    }

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
        foreach (var q in _lastQueries) q?.Dispose();
        _scale.Dispose();
    }
}
